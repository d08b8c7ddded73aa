"""The two-region example (prod-us-east-1 home, prod-eu-west-1) under Pulumi mocks: the resource graph by type
token, counts and key inputs per region."""

from __future__ import annotations

import dataclasses
import json

import pytest

from infra.mockrun import MOCK_ACCOUNT_ID, CapturedResource, ProgramRun
from runtime.settings import Settings
from runtime.stores.tables import TABLES
from tests.support.infra_stacks import HOME_STACK, SECOND_STACK, run_example

ZONE = "Z0123456789EXAMPLE"
TABLE = "aws:dynamodb/table:Table"
QUEUE = "aws:sqs/queue:Queue"
RECORD = "aws:route53/record:Record"
SUBSCRIPTION = "aws:sns/topicSubscription:TopicSubscription"
CONFIG_SET = "aws:sesv2/configurationSet:ConfigurationSet"
DESTINATION = "aws:sesv2/configurationSetEventDestination:ConfigurationSetEventDestination"
FUNCTION = "aws:lambda/function:Function"

COMMON_COUNTS = {
    "aws:acm/certificate:Certificate": 1,
    "aws:acm/certificateValidation:CertificateValidation": 1,
    "aws:apigateway/deployment:Deployment": 1,
    "aws:apigateway/restApi:RestApi": 1,
    "aws:apigateway/stage:Stage": 1,
    "aws:cloudfront/distribution:Distribution": 1,
    "aws:cloudwatch/dashboard:Dashboard": 1,
    "aws:cloudwatch/eventRule:EventRule": 1,
    "aws:cloudwatch/eventTarget:EventTarget": 1,
    # 8 functions, each with its log group, role and policy, and errors + throttles alarms
    "aws:cloudwatch/logGroup:LogGroup": 8,
    # reputation 2, dead-letter queues 5, oldest message age 4, errors + throttles of 8 functions, API 5xx,
    # guardrail tripped
    "aws:cloudwatch/metricAlarm:MetricAlarm": 29,
    "aws:iam/role:Role": 8,
    "aws:iam/rolePolicy:RolePolicy": 8,
    "aws:lambda/eventSourceMapping:EventSourceMapping": 4,
    "aws:lambda/function:Function": 8,
    "aws:lambda/permission:Permission": 4,
    "aws:s3/bucket:Bucket": 1,
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration": 1,
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": 1,
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": 1,
    "aws:ses/domainIdentityVerification:DomainIdentityVerification": 1,
    "aws:sesv2/configurationSet:ConfigurationSet": 2,
    "aws:sesv2/configurationSetEventDestination:ConfigurationSetEventDestination": 6,
    "aws:sesv2/emailIdentity:EmailIdentity": 1,
    "aws:sesv2/emailIdentityMailFromAttributes:EmailIdentityMailFromAttributes": 1,
    "aws:sns/topic:Topic": 3,
    "aws:sns/topicPolicy:TopicPolicy": 2,
    "aws:sns/topicSubscription:TopicSubscription": 3,
    "aws:sqs/queue:Queue": 9,
    "aws:sqs/queuePolicy:QueuePolicy": 3,
    "aws:ssm/parameter:Parameter": 1,
}
HOME_COUNTS = {
    **COMMON_COUNTS,
    "aws:dynamodb/table:Table": 4,
    # the messages stream's counter consumer (home region only): its function, log group, role and policy, its
    # mapping beside the 4 queue consumers', its errors, throttles and iterator age alarms
    "aws:cloudwatch/logGroup:LogGroup": 9,
    "aws:cloudwatch/metricAlarm:MetricAlarm": 32,
    "aws:iam/role:Role": 9,
    "aws:iam/rolePolicy:RolePolicy": 9,
    "aws:lambda/eventSourceMapping:EventSourceMapping": 5,
    "aws:lambda/function:Function": 9,
    "aws:route53/record:Record": 9,  # 3 DKIM, MX, SPF, DMARC, ACM validation, alias A + AAAA
    "pulumi:providers:aws": 1,  # us-east-1 serves the ACM certificate too
    "random:index/randomPassword:RandomPassword": 4,  # unsubscribe, pagination, forward, redrive
}
SECOND_COUNTS = {
    **COMMON_COUNTS,
    "aws:route53/record:Record": 8,  # no DMARC
    "pulumi:providers:aws": 2,  # eu-west-1 + us-east-1 for the certificate
    "pulumi:pulumi:StackReference": 1,  # the home stack's generated secrets
}
QUEUE_NAMES = {
    "sesame-prod-critical",
    "sesame-prod-engagement",
    "sesame-prod-send",
    "sesame-prod-forward",
}


@pytest.fixture(scope="module")
def home() -> ProgramRun:
    return run_example(HOME_STACK)


@pytest.fixture(scope="module")
def second() -> ProgramRun:
    return run_example(SECOND_STACK)


def _records(run: ProgramRun) -> list[tuple[str, str, list[str]]]:
    return [(r.inputs["name"], r.inputs["type"], r.inputs.get("records", [])) for r in run.of_type(RECORD)]


# -- resource graph ----------------------------------------------------------------------------------------------


def test_home_stack_declares_the_expected_resource_graph(home: ProgramRun) -> None:
    assert home.type_counts() == dict(sorted(HOME_COUNTS.items()))


def test_second_region_declares_the_expected_resource_graph(second: ProgramRun) -> None:
    assert second.type_counts() == dict(sorted(SECOND_COUNTS.items()))


def test_one_component_per_concern(home: ProgramRun) -> None:
    components = {r.type for r in home.resources if not r.custom}
    assert components == {
        "sesame:infra:IdentityDns",
        "sesame:infra:TrackingDomain",
        "sesame:infra:Messaging",
        "sesame:infra:ConfigurationSets",
        "sesame:infra:GlobalTables",
        "sesame:infra:CampaignStorage",
        "sesame:infra:AppSecrets",
        "sesame:infra:App",
        "sesame:infra:FunctionRole",
        "sesame:infra:Alarms",
        "sesame:infra:Dashboard",
    }


@pytest.mark.parametrize("stack", [HOME_STACK, SECOND_STACK])
def test_regional_resources_use_the_stack_region_and_the_certificate_us_east_1(stack: str) -> None:
    run = run_example(stack)
    region = stack.removeprefix("prod-")
    global_types = {
        "aws:acm/certificate:Certificate",
        "aws:acm/certificateValidation:CertificateValidation",
        "aws:cloudfront/distribution:Distribution",
    }
    for r in run.resources:
        if not r.custom or r.type.startswith(("pulumi:", "random:")):
            continue
        expected = "us-east-1" if r.type in global_types else region
        assert r.region == expected, (r.type, r.name)


# -- tables ------------------------------------------------------------------------------------------------------


def test_home_tables_are_built_from_the_shared_table_definitions(home: ProgramRun) -> None:
    tables = {t.inputs["name"]: t.inputs for t in home.of_type(TABLE)}
    assert set(tables) == {spec.physical_name("prod") for spec in TABLES}
    for spec in TABLES:
        t = tables[spec.physical_name("prod")]
        assert t["hashKey"] == spec.hash_key
        assert t.get("rangeKey") == spec.range_key
        assert t["billingMode"] == "PAY_PER_REQUEST"
        assert {(a["name"], a["type"]) for a in t["attributes"]} == {
            (a["AttributeName"], a["AttributeType"]) for a in spec.attribute_definitions()
        }
        indexes = {ix["name"]: ix for ix in t.get("globalSecondaryIndexes", [])}
        assert set(indexes) == {ix.name for ix in spec.indexes}
        for ix in spec.indexes:
            schema = [(k["attributeName"], k["keyType"]) for k in indexes[ix.name]["keySchemas"]]
            assert schema == [(ix.hash_key, "HASH")] + ([(ix.range_key, "RANGE")] if ix.range_key else [])
            assert indexes[ix.name]["projectionType"] == ix.projection
            assert indexes[ix.name].get("nonKeyAttributes") == (list(ix.include) if ix.include else None)
        assert t["ttl"] == {"attributeName": "expires_at", "enabled": True}
        assert t["pointInTimeRecovery"]["enabled"] is True
        assert t["serverSideEncryption"]["enabled"] is True
        assert t["deletionProtectionEnabled"] is True  # prod


def test_home_tables_list_the_other_region_as_replica(home: ProgramRun) -> None:
    for t in home.of_type(TABLE):
        assert [r["regionName"] for r in t.inputs["replicas"]] == ["eu-west-1"]
        assert t.inputs["streamEnabled"] is True
        assert t.inputs["streamViewType"] == "NEW_AND_OLD_IMAGES"


def test_second_region_declares_no_table_but_uses_the_same_names(home: ProgramRun, second: ProgramRun) -> None:
    assert second.of_type(TABLE) == []
    assert second.outputs["tablesOwnedHere"] == []
    assert second.outputs["tables"] == home.outputs["tables"]
    for spec in TABLES:
        assert second.outputs["environmentVariables"][spec.env_var()] == spec.physical_name("prod")


def test_deletion_protection_is_off_outside_production() -> None:
    run = run_example(HOME_STACK, environment="staging")
    assert {t.inputs["deletionProtectionEnabled"] for t in run.of_type(TABLE)} == {False}
    assert {t.inputs["name"] for t in run.of_type(TABLE)} == {spec.physical_name("staging") for spec in TABLES}


# -- identity and DNS --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("stack", [HOME_STACK, SECOND_STACK])
def test_dkim_mail_from_and_spf_records_are_regional(stack: str) -> None:
    run = run_example(stack)
    region = stack.removeprefix("prod-")
    identity = run.of_type("aws:sesv2/emailIdentity:EmailIdentity")[0]
    assert identity.inputs["emailIdentity"] == "example.com"
    assert identity.inputs["dkimSigningAttributes"] == {"nextSigningKeyLength": "RSA_2048_BIT"}
    tokens = identity.state["dkimSigningAttributes"]["tokens"]
    records = _records(run)
    for token in tokens:
        assert (f"{token}._domainkey.example.com", "CNAME", [f"{token}.dkim.amazonses.com"]) in records
    mail_from = f"bounce-{region}.example.com"
    assert (mail_from, "MX", [f"10 feedback-smtp.{region}.amazonses.com"]) in records
    assert (mail_from, "TXT", ["v=spf1 include:amazonses.com ~all"]) in records
    attrs = run.of_type("aws:sesv2/emailIdentityMailFromAttributes:EmailIdentityMailFromAttributes")[0].inputs
    assert attrs == {
        "emailIdentity": "example.com",
        "mailFromDomain": mail_from,
        "behaviorOnMxFailure": "USE_DEFAULT_VALUE",
    }
    assert {r.inputs["zoneId"] for r in run.of_type(RECORD)} == {ZONE}


def test_only_the_home_stack_declares_zone_wide_records(home: ProgramRun, second: ProgramRun) -> None:
    home_dmarc = [r for r in _records(home) if r[0] == "_dmarc.example.com"]
    assert home_dmarc == [
        (
            "_dmarc.example.com",
            "TXT",
            ["v=DMARC1; p=none; rua=mailto:dmarc-reports@example.com; pct=100"],
        )
    ]
    second_names = {name for name, _, _ in _records(second)}
    assert not any(name.startswith("_dmarc.") for name in second_names)
    # every record the second stack declares is specific to eu-west-1 (its DKIM tokens, MAIL FROM, tracking)
    home_names = {name for name, _, _ in _records(home)}
    assert second_names.isdisjoint(home_names)


def test_byodkim_publishes_one_selector_record_from_the_home_stack() -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    overrides = {"byodkimSelector": "sesame1", "byodkimPrivateKey": pem}
    home = run_example(HOME_STACK, **overrides)
    second = run_example(SECOND_STACK, **overrides)
    attrs = home.of_type("aws:sesv2/emailIdentity:EmailIdentity")[0].inputs["dkimSigningAttributes"]
    assert attrs["domainSigningSelector"] == "sesame1"
    assert "BEGIN" not in attrs["domainSigningPrivateKey"]
    (txt,) = [r for r in home.of_type(RECORD) if r.inputs["name"] == "sesame1._domainkey.example.com"]
    value = txt.inputs["records"][0].replace('""', "")
    assert value.startswith("v=DKIM1; k=rsa; p=MII")
    assert all(len(chunk) <= 255 for chunk in txt.inputs["records"][0].split('""'))
    assert not [r for r in second.of_type(RECORD) if "_domainkey" in r.inputs["name"]]
    assert not [r for r in home.of_type(RECORD) if r.inputs["type"] == "CNAME" and "_domainkey" in r.inputs["name"]]


def test_without_hosted_zone_no_route53_record_is_declared_and_the_records_are_exported() -> None:
    run = run_example(HOME_STACK, hostedZoneId="")
    assert run.of_type(RECORD) == []
    manual = run.outputs["manualDnsRecords"]
    by_purpose = {(r["type"], r["name"]): r["value"] for r in manual}
    tokens = run.of_type("aws:sesv2/emailIdentity:EmailIdentity")[0].state["dkimSigningAttributes"]["tokens"]
    for token in tokens:
        assert by_purpose[("CNAME", f"{token}._domainkey.example.com")] == f"{token}.dkim.amazonses.com"
    assert by_purpose[("MX", "bounce-us-east-1.example.com")] == "10 feedback-smtp.us-east-1.amazonses.com"
    assert by_purpose[("TXT", "bounce-us-east-1.example.com")] == "v=spf1 include:amazonses.com ~all"
    assert by_purpose[("TXT", "_dmarc.example.com")].startswith("v=DMARC1; p=none;")
    distribution = run.of_type("aws:cloudfront/distribution:Distribution")[0].state["domainName"]
    assert by_purpose[("CNAME", "track-prod-us-east-1.example.com")] == distribution
    validation = run.of_type("aws:acm/certificate:Certificate")[0].state["domainValidationOptions"][0]
    assert by_purpose[("CNAME", validation["resourceRecordName"].rstrip("."))] == validation[
        "resourceRecordValue"
    ].rstrip(".")
    assert len(manual) == 8
    assert all(set(r) == {"name", "type", "value", "purpose"} for r in manual)


def test_zone_managed_stacks_export_no_manual_records(home: ProgramRun) -> None:
    assert "manualDnsRecords" not in home.outputs


# -- tracking domain ---------------------------------------------------------------------------------------------


def test_https_tracking_domain_uses_cloudfront_in_front_of_the_regional_awstrack_origin(second: ProgramRun) -> None:
    cert = second.of_type("aws:acm/certificate:Certificate")[0].inputs
    assert cert["domainName"] == "track-prod-eu-west-1.example.com"
    assert cert["validationMethod"] == "DNS"
    dist = second.of_type("aws:cloudfront/distribution:Distribution")[0].inputs
    assert dist["aliases"] == ["track-prod-eu-west-1.example.com"]
    assert dist["origins"][0]["domainName"] == "r.eu-west-1.awstrack.me"
    behavior = dist["defaultCacheBehavior"]
    assert behavior["forwardedValues"]["headers"] == ["Host"]
    assert behavior["viewerProtocolPolicy"] == "redirect-to-https"
    assert dist["viewerCertificate"]["acmCertificateArn"].startswith("arn:aws:acm:us-east-1:")
    aliases = [r.inputs for r in second.of_type(RECORD) if r.inputs["name"] == "track-prod-eu-west-1.example.com"]
    assert sorted(a["type"] for a in aliases) == ["A", "AAAA"]
    assert all(a["aliases"][0]["zoneId"] == "Z2FDTNDATAQYW2" for a in aliases)
    marketing = second.named(CONFIG_SET, "config-set-marketing").inputs
    assert marketing["trackingOptions"] == {
        "customRedirectDomain": "track-prod-eu-west-1.example.com",
        "httpsPolicy": "REQUIRE",
    }


def test_http_tracking_mode_is_a_plain_cname_to_awstrack() -> None:
    run = run_example(SECOND_STACK, trackingHttps="false")
    assert run.of_type("aws:cloudfront/distribution:Distribution") == []
    assert run.of_type("aws:acm/certificate:Certificate") == []
    assert ("track-prod-eu-west-1.example.com", "CNAME", ["r.eu-west-1.awstrack.me"]) in _records(run)
    marketing = run.named(CONFIG_SET, "config-set-marketing").inputs
    assert marketing["trackingOptions"]["httpsPolicy"] == "OPTIONAL"


# -- configuration sets ------------------------------------------------------------------------------------------


def test_configuration_sets_have_reputation_tls_and_suppression(home: ProgramRun) -> None:
    sets = {c.inputs["configurationSetName"]: c.inputs for c in home.of_type(CONFIG_SET)}
    assert set(sets) == {"sesame-prod-marketing", "sesame-prod-transactional"}
    for cs in sets.values():
        assert cs["reputationOptions"] == {"reputationMetricsEnabled": True}
        assert cs["deliveryOptions"]["tlsPolicy"] == "REQUIRE"
        assert cs["suppressionOptions"] == {"suppressedReasons": ["BOUNCE", "COMPLAINT"]}
    assert "trackingOptions" not in sets["sesame-prod-transactional"]


ALL_TEN_TYPES = [
    "SEND",
    "REJECT",
    "BOUNCE",
    "COMPLAINT",
    "DELIVERY",
    "OPEN",
    "CLICK",
    "RENDERING_FAILURE",
    "DELIVERY_DELAY",
    "SUBSCRIPTION",
]
CRITICAL_DESTINATION_TYPES = ["BOUNCE", "COMPLAINT", "REJECT", "RENDERING_FAILURE", "SUBSCRIPTION"]


def test_event_destinations_route_every_type_to_the_topic_of_its_class_and_all_ten_to_cloudwatch(
    home: ProgramRun,
) -> None:
    topics = {
        "sns-critical": f"arn:aws:sns:us-east-1:{MOCK_ACCOUNT_ID}:sesame-prod-ses-critical-events",
        "sns": f"arn:aws:sns:us-east-1:{MOCK_ACCOUNT_ID}:sesame-prod-ses-events",
    }
    destinations = {
        (d.inputs["configurationSetName"], d.inputs["eventDestinationName"]): d.inputs
        for d in home.of_type(DESTINATION)
    }
    assert set(destinations) == {
        (cs, kind)
        for cs in ("sesame-prod-marketing", "sesame-prod-transactional")
        for kind in ("sns-critical", "sns", "cloudwatch")
    }
    for cs in ("sesame-prod-marketing", "sesame-prod-transactional"):
        # every type goes to exactly one topic: SES routes by class, SNS filters nothing
        critical = destinations[(cs, "sns-critical")]["eventDestination"]["matchingEventTypes"]
        engagement = destinations[(cs, "sns")]["eventDestination"]["matchingEventTypes"]
        assert sorted(critical) == sorted(CRITICAL_DESTINATION_TYPES)
        assert sorted(critical + engagement) == sorted(ALL_TEN_TYPES)
        # SES publishes to a topic only once the consumers trust it (their SNS_ALLOWED_TOPIC_ARNS), and the
        # engagement destination (the former single one) changes only after the critical one exists
        for fn in ("critical_events", "engagement_events", "webhook"):
            assert home.depends_on(
                home.named(DESTINATION, f"config-set-{cs.removeprefix('sesame-prod-')}-sns-critical"),
                home.named(FUNCTION, f"{fn}-function"),
            )
        assert home.depends_on(
            home.named(DESTINATION, f"config-set-{cs.removeprefix('sesame-prod-')}-sns"),
            home.named(DESTINATION, f"config-set-{cs.removeprefix('sesame-prod-')}-sns-critical"),
        )
    for (cs, kind), d in destinations.items():
        spec = d["eventDestination"]
        assert spec["enabled"] is True
        if kind in topics:
            assert spec["snsDestination"] == {"topicArn": topics[kind]}
        else:
            assert sorted(spec["matchingEventTypes"]) == sorted(ALL_TEN_TYPES)
            dims = {c["dimensionName"]: c for c in spec["cloudWatchDestination"]["dimensionConfigurations"]}
            assert set(dims) == {"ses:configuration-set", "campaign_id"}
            assert dims["ses:configuration-set"]["defaultDimensionValue"] == cs
            assert {c["dimensionValueSource"] for c in dims.values()} == {"MESSAGE_TAG"}


def test_configuration_set_options_come_from_config() -> None:
    sets = {
        "bulk": {"tracking": True, "ipPool": "warmup", "vdmEngagementMetrics": True, "maxDeliverySeconds": 3600},
        "alerts": {},
    }
    run = run_example(
        SECOND_STACK,
        configurationSets=json.dumps(sets),
        defaultConfigurationSet="alerts",
        dedicatedIpPools='{"warmup": {"scalingMode": "MANAGED"}}',
    )
    bulk = run.named(CONFIG_SET, "config-set-bulk").inputs
    assert bulk["configurationSetName"] == "sesame-prod-bulk"
    # the pool is created by the stack (environment in its name), so the set never names a missing pool
    (pool,) = run.of_type("aws:sesv2/dedicatedIpPool:DedicatedIpPool")
    assert pool.inputs == {"poolName": "sesame-prod-warmup", "scalingMode": "MANAGED"}
    assert bulk["deliveryOptions"] == {
        "tlsPolicy": "REQUIRE",
        "sendingPoolName": "sesame-prod-warmup",
        "maxDeliverySeconds": 3600,
    }
    assert bulk["vdmOptions"] == {"dashboardOptions": {"engagementMetrics": "ENABLED"}}
    env = run.outputs["environmentVariables"]
    assert json.loads(env["SESAME_CONFIGURATION_SETS"]) == {"bulk": "sesame-prod-bulk", "alerts": "sesame-prod-alerts"}
    assert env["SESAME_DEFAULT_CONFIGURATION_SET"] == "alerts"


# -- messaging ---------------------------------------------------------------------------------------------------


def test_event_topic_policies_let_only_this_stacks_configuration_sets_publish(second: ProgramRun) -> None:
    for resource, name in (
        ("ses-critical-events", "sesame-prod-ses-critical-events"),
        ("ses-events", "sesame-prod-ses-events"),
    ):
        topic = second.named("aws:sns/topic:Topic", resource).inputs
        assert topic["name"] == name
        assert topic["signatureVersion"] == 2
        policy = json.loads(second.named("aws:sns/topicPolicy:TopicPolicy", f"{resource}-policy").inputs["policy"])
        (statement,) = policy["Statement"]
        assert statement["Principal"] == {"Service": "ses.amazonaws.com"}
        assert statement["Resource"] == f"arn:aws:sns:eu-west-1:{MOCK_ACCOUNT_ID}:{name}"
        assert statement["Condition"]["StringEquals"] == {"AWS:SourceAccount": MOCK_ACCOUNT_ID}
        assert sorted(statement["Condition"]["ArnLike"]["AWS:SourceArn"]) == [
            f"arn:aws:ses:eu-west-1:{MOCK_ACCOUNT_ID}:configuration-set/sesame-prod-marketing",
            f"arn:aws:ses:eu-west-1:{MOCK_ACCOUNT_ID}:configuration-set/sesame-prod-transactional",
        ]


@pytest.mark.parametrize("stack", [HOME_STACK, SECOND_STACK])
def test_every_queue_has_a_dlq_with_max_receive_count_3_and_sse(stack: str) -> None:
    run = run_example(stack)
    region = stack.removeprefix("prod-")
    queues = {q.inputs["name"]: q for q in run.of_type(QUEUE)}
    assert set(queues) == QUEUE_NAMES | {f"{n}-dlq" for n in QUEUE_NAMES} | {"sesame-prod-webhook-dlq"}
    for name in QUEUE_NAMES:
        redrive = json.loads(queues[name].inputs["redrivePolicy"])
        assert redrive == {
            "deadLetterTargetArn": f"arn:aws:sqs:{region}:{MOCK_ACCOUNT_ID}:{name}-dlq",
            "maxReceiveCount": 3,
        }
    assert all(q.inputs["sqsManagedSseEnabled"] is True for q in queues.values())


def test_queue_visibility_timeouts_exceed_their_consumers_timeouts(home: ProgramRun) -> None:
    timeouts = {f.inputs["name"]: f.inputs["timeout"] for f in home.of_type(FUNCTION)}
    visibility = {q.inputs["name"]: q.inputs["visibilityTimeoutSeconds"] for q in home.of_type(QUEUE)}
    for queue, fn in (
        ("sesame-prod-send", "sesame-prod-sender"),
        ("sesame-prod-critical", "sesame-prod-critical-events"),
        ("sesame-prod-engagement", "sesame-prod-engagement-events"),
        ("sesame-prod-forward", "sesame-prod-forward-events"),
    ):
        assert visibility[queue] == 6 * timeouts[fn]


def test_each_event_topic_delivers_everything_to_its_queue_unfiltered_and_keeps_the_envelope(
    second: ProgramRun,
) -> None:
    # no filter policy: SNS bills payload filtering per GB scanned, and the topics carry one class each already
    subs = {s.name: s.inputs for s in second.of_type(SUBSCRIPTION) if s.inputs["protocol"] == "sqs"}
    assert set(subs) == {"critical-subscription", "engagement-subscription"}
    topics = {"critical": "sesame-prod-ses-critical-events", "engagement": "sesame-prod-ses-events"}
    for name, sub in subs.items():
        queue = name.removesuffix("-subscription")
        assert sub["endpoint"] == f"arn:aws:sqs:eu-west-1:{MOCK_ACCOUNT_ID}:sesame-prod-{queue}"
        assert sub["topic"] == f"arn:aws:sns:eu-west-1:{MOCK_ACCOUNT_ID}:{topics[queue]}"
        assert sub["rawMessageDelivery"] is False
        assert "filterPolicy" not in sub and "filterPolicyScope" not in sub


def test_the_runtime_accepts_exactly_the_two_event_topics(second: ProgramRun) -> None:
    env = second.outputs["environmentVariables"]
    assert env["SNS_ALLOWED_TOPIC_ARNS"].split(",") == [
        f"arn:aws:sns:eu-west-1:{MOCK_ACCOUNT_ID}:sesame-prod-ses-critical-events",
        f"arn:aws:sns:eu-west-1:{MOCK_ACCOUNT_ID}:sesame-prod-ses-events",
    ]
    assert second.outputs["eventTopicArns"] == dict(
        zip(("critical", "engagement"), env["SNS_ALLOWED_TOPIC_ARNS"].split(","), strict=True)
    )


def test_queue_policies_admit_only_their_event_topics(second: ProgramRun) -> None:
    critical = f"arn:aws:sns:eu-west-1:{MOCK_ACCOUNT_ID}:sesame-prod-ses-critical-events"
    engagement = f"arn:aws:sns:eu-west-1:{MOCK_ACCOUNT_ID}:sesame-prod-ses-events"
    expected = {
        "critical-policy": critical,
        "engagement-policy": engagement,
        "webhook-dlq-policy": [critical, engagement],  # both webhook subscriptions park failures there
    }
    policies = second.of_type("aws:sqs/queuePolicy:QueuePolicy")
    assert {p.name for p in policies} == set(expected)
    for p in policies:
        (statement,) = json.loads(p.inputs["policy"])["Statement"]
        assert statement["Principal"] == {"Service": "sns.amazonaws.com"}
        assert statement["Action"] == "sqs:SendMessage"
        assert statement["Condition"] == {"ArnEquals": {"aws:SourceArn": expected[p.name]}}
        assert statement["Resource"].split(":")[-1] in p.inputs["queueUrl"]


def test_webhook_subscriptions_target_the_stacks_own_api_from_both_topics_with_a_retry_policy_and_a_dlq() -> None:
    run = run_example(HOME_STACK, webhook="true")
    subs = [s for s in run.of_type(SUBSCRIPTION) if s.inputs["protocol"] == "https"]
    assert sorted(s.inputs["topic"].rsplit(":", 1)[1] for s in subs) == [
        "sesame-prod-ses-critical-events",
        "sesame-prod-ses-events",
    ]
    for sub in subs:
        _webhook_subscription_is_configured(run, sub)


def _webhook_subscription_is_configured(run: ProgramRun, sub: CapturedResource) -> None:
    url = f"https://{run.outputs['apiId']}.execute-api.us-east-1.amazonaws.com/api/webhooks/ses"
    assert sub.inputs["endpoint"] == url == run.outputs["webhookUrl"]
    assert sub.inputs["rawMessageDelivery"] is False
    assert sub.inputs["endpointAutoConfirms"] is True  # the app confirms; the run waits for it
    assert json.loads(sub.inputs["deliveryPolicy"])["healthyRetryPolicy"]["numRetries"] == 50
    assert json.loads(sub.inputs["redrivePolicy"]) == {
        "deadLetterTargetArn": f"arn:aws:sqs:us-east-1:{MOCK_ACCOUNT_ID}:sesame-prod-webhook-dlq"
    }
    # subscribed only once the API serves the route: stage deployed, function and permission in place
    for token, name in (
        ("aws:apigateway/stage:Stage", "api-stage"),
        (FUNCTION, "webhook-function"),
        ("aws:lambda/permission:Permission", "webhook-api-permission"),
    ):
        assert run.depends_on(sub, run.named(token, name)), name


# -- IAM, alarms, secrets, failover, archive ---------------------------------------------------------------------


def _policy(run: ProgramRun, function: str) -> dict[str, dict]:
    doc = json.loads(run.named("aws:iam/rolePolicy:RolePolicy", f"{function}-policy").inputs["policy"])
    return {statement["Sid"]: statement for statement in doc["Statement"]}


def _actions(statements: dict[str, dict]) -> set[str]:
    return {action for statement in statements.values() for action in statement["Action"]}


def _table_arn(region: str, table: str) -> str:
    return f"arn:aws:dynamodb:{region}:{MOCK_ACCOUNT_ID}:table/sesame-prod-{table}"


def test_every_function_runs_with_its_own_role(second: ProgramRun) -> None:
    roles = {r.name: r.inputs for r in second.of_type("aws:iam/role:Role")}
    functions = {f.name.removesuffix("-function"): f.inputs for f in second.of_type(FUNCTION)}
    assert set(functions) == {
        "api",
        "webhook",
        "unsubscribe",
        "sender",
        "critical_events",
        "engagement_events",
        "forward_events",
        "check_for_campaign",
    }
    for fn, inputs in functions.items():
        role = roles[f"{fn}-role"]
        assert inputs["role"] == f"arn:aws:iam::{MOCK_ACCOUNT_ID}:role/{role['name']}"
        assert role["name"] == f"sesame-prod-eu-west-1-{fn.replace('_', '-')}"
        trust = json.loads(role["assumeRolePolicy"])
        assert trust["Statement"][0]["Principal"] == {"Service": "lambda.amazonaws.com"}
    assert len({f["role"] for f in functions.values()}) == len(functions)


@pytest.mark.parametrize("function", ["webhook", "unsubscribe"])
def test_public_handlers_can_neither_send_email_nor_write_every_table(second: ProgramRun, function: str) -> None:
    statements = _policy(second, function)
    actions = _actions(statements)
    assert not {a for a in actions if a.startswith("ses:")}
    assert not {a for a in actions if a.startswith(("s3:", "sqs:Receive", "sqs:Delete"))}
    tables = {arn for st in statements.values() if st["Sid"].startswith("Table") for arn in st["Resource"]}
    assert _table_arn("eu-west-1", "control") not in tables
    assert all(r != "*" for st in statements.values() for r in st["Resource"])


def test_unsubscribe_writes_only_the_suppression_and_the_campaign_counter(second: ProgramRun) -> None:
    statements = _policy(second, "unsubscribe")
    assert statements["TableSuppressions"]["Action"] == ["dynamodb:PutItem"]
    assert statements["TableCampaigns"]["Action"] == ["dynamodb:UpdateItem"]
    assert {sid for sid in statements if sid.startswith("Table")} == {"TableSuppressions", "TableCampaigns"}
    assert [arn.rsplit(":", 1)[1] for arn in statements["SendToQueues"]["Resource"]] == ["sesame-prod-forward"]


def test_only_the_sender_and_the_send_api_send_email_as_the_domain_through_these_configuration_sets(
    second: ProgramRun,
) -> None:
    senders = [f.name.removesuffix("-function") for f in second.of_type(FUNCTION)]
    # the sender Lambda, and the API function for POST /messages (the sender core runs inside the request)
    assert sorted(fn for fn in senders if "ses:SendEmail" in _actions(_policy(second, fn))) == ["api", "sender"]
    for fn in ("sender", "api"):
        ses = _policy(second, fn)["SendAsTheDomainThroughTheseConfigurationSets"]
        assert ses["Condition"] == {"StringLike": {"ses:FromAddress": "*@example.com"}}
        assert set(ses["Action"]) == {"ses:SendEmail", "ses:SendBulkEmail"}
        for region in ("us-east-1", "eu-west-1"):  # failover sends through the other region
            assert f"arn:aws:ses:{region}:{MOCK_ACCOUNT_ID}:identity/example.com" in ses["Resource"]
            assert f"arn:aws:ses:{region}:{MOCK_ACCOUNT_ID}:configuration-set/sesame-prod-marketing" in ses["Resource"]
            # SendEmail/SendBulkEmail with ListManagementOptions are also authorised against the contact list
            assert f"arn:aws:ses:{region}:{MOCK_ACCOUNT_ID}:contact-list/*" in ses["Resource"]
        assert not any(r.endswith(":identity/*") or r == "*" for r in ses["Resource"])


def test_each_consumer_reads_only_its_own_queue(second: ProgramRun) -> None:
    for fn, queue in (
        ("sender", "send"),
        ("critical_events", "critical"),
        ("engagement_events", "engagement"),
        ("forward_events", "forward"),
    ):
        consume = _policy(second, fn)["ConsumeQueue"]
        assert consume["Resource"] == f"arn:aws:sqs:eu-west-1:{MOCK_ACCOUNT_ID}:sesame-prod-{queue}"
        assert set(consume["Action"]) == {
            "sqs:ReceiveMessage",
            "sqs:DeleteMessage",
            "sqs:ChangeMessageVisibility",
            "sqs:GetQueueAttributes",
        }
    for fn in ("api", "webhook", "unsubscribe", "check_for_campaign"):
        assert "ConsumeQueue" not in _policy(second, fn)


def test_sender_may_look_up_unknown_sends_and_watch_the_event_queues_and_forward_requeues(second: ProgramRun) -> None:
    sender = _policy(second, "sender")
    assert "dynamodb:Query" in sender["TableMessages"]["Action"]  # the send id lookup on recipient-index
    watched = sender["WatchQueues"]
    assert watched["Action"] == ["sqs:GetQueueAttributes"]
    assert sorted(arn.rsplit(":", 1)[1] for arn in watched["Resource"]) == [
        "sesame-prod-critical",
        "sesame-prod-critical-dlq",
        "sesame-prod-engagement",
        "sesame-prod-engagement-dlq",
    ]
    forward = _policy(second, "forward_events")["SendToQueues"]["Resource"]
    assert sorted(arn.rsplit(":", 1)[1] for arn in forward) == ["sesame-prod-forward", "sesame-prod-forward-dlq"]
    assert _policy(second, "api")["WatchQueues"] == watched  # POST /messages resolves lost answers the same way
    assert all("WatchQueues" not in _policy(second, fn) for fn in ("webhook", "critical_events"))


def test_permissions_nothing_calls_are_gone(second: ProgramRun) -> None:
    every = set().union(
        *(_actions(_policy(second, f.name.removesuffix("-function"))) for f in second.of_type(FUNCTION))
    )
    # (ses:GetEmailTemplate is called: a campaign template that already exists is read back, never updated)
    for unused in ("dynamodb:DescribeTable", "ses:UpdateEmailTemplate", "sqs:GetQueueUrl", "logs:CreateLogGroup"):
        assert unused not in every
    wildcard = {
        (f.name, st["Sid"])
        for f in second.of_type(FUNCTION)
        for st in _policy(second, f.name.removesuffix("-function")).values()
        if st["Resource"] == "*"
    }
    # GetAccount and GetMetricData have no resource-level permissions
    assert wildcard == {
        ("sender-function", "ReadSendingQuota"),
        ("api-function", "ReadSendingQuota"),
        ("api-function", "ReadReputationMetrics"),
        ("check_for_campaign-function", "ReadSendingQuota"),
        ("check_for_campaign-function", "ReadReputationMetrics"),
    }


def test_api_role_manages_templates_and_payloads(second: ProgramRun) -> None:
    statements = _policy(second, "api")
    templates = statements["ManageCampaignTemplates"]
    # campaigns create their templates, never update one: environments sharing an account cannot overwrite each
    # other's campaign content, and the role may only touch its own environment's template names
    assert set(templates["Action"]) == {"ses:CreateEmailTemplate", "ses:GetEmailTemplate"}
    assert sorted(templates["Resource"]) == [
        f"arn:aws:ses:{region}:{MOCK_ACCOUNT_ID}:template/sesame-prod-*" for region in ("eu-west-1", "us-east-1")
    ]
    assert statements["CampaignPayloads"]["Resource"] == (
        f"arn:aws:s3:::sesame-prod-eu-west-1-campaigns-{MOCK_ACCOUNT_ID}/*"
    )
    assert [arn.rsplit(":", 1)[1] for arn in statements["SendToQueues"]["Resource"]] == ["sesame-prod-send"]
    # POST /messages: job records, pacing and idempotency keys live in the control table; no Scan, no Query there
    assert statements["TableControl"]["Resource"] == [_table_arn("eu-west-1", "control")]
    assert "dynamodb:Scan" not in statements["TableControl"]["Action"]
    pause = statements["PauseOwnConfigurationSets"]
    assert pause["Action"] == ["ses:PutConfigurationSetSendingOptions"]
    assert all(":configuration-set/sesame-prod-" in arn for arn in pause["Resource"])


def test_each_role_writes_only_its_own_log_group(second: ProgramRun) -> None:
    from fnmatch import fnmatchcase

    prefix = f"arn:aws:logs:eu-west-1:{MOCK_ACCOUNT_ID}:log-group:/aws/lambda/"
    for function in second.of_type(FUNCTION):
        logical = function.name.removesuffix("-function")
        logs = _policy(second, logical)["OwnLogGroup"]
        group = prefix + function.inputs["name"]
        assert any(fnmatchcase(f"{group}:log-stream:2026/11/22/[$LATEST]abc", r) for r in logs["Resource"]), group
        assert not any(fnmatchcase(prefix + "sesame-prod-other", r) for r in logs["Resource"])
        assert not any(fnmatchcase(group.replace("eu-west-1", "us-east-1"), r) for r in logs["Resource"])


def test_alarms_warn_below_ses_review_levels_and_cover_every_dlq(home: ProgramRun) -> None:
    alarms = {
        a.inputs["metricName"] + ":" + a.inputs.get("dimensions", {}).get("QueueName", ""): a.inputs
        for a in home.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")
        if a.inputs["namespace"] in ("AWS/SES", "AWS/SQS")
    }
    # SES puts an account under review at a 5 % bounce rate and a 0.1 % complaint rate
    assert alarms["Reputation.BounceRate:"]["threshold"] == 0.02
    assert alarms["Reputation.ComplaintRate:"]["threshold"] == 0.0005
    assert alarms["Reputation.ComplaintRate:"]["comparisonOperator"] == "GreaterThanOrEqualToThreshold"
    dlqs = {k.split(":", 1)[1] for k in alarms if k.startswith("ApproximateNumberOfMessagesVisible")}
    assert dlqs == {f"{n}-dlq" for n in QUEUE_NAMES} | {"sesame-prod-webhook-dlq"}
    aged = {k.split(":", 1)[1]: a["threshold"] for k, a in alarms.items() if k.startswith("ApproximateAge")}
    assert aged == {
        "sesame-prod-critical": 900,
        "sesame-prod-engagement": 900,
        "sesame-prod-send": 3600,
        "sesame-prod-forward": 3600,
    }
    alarm_topic = f"arn:aws:sns:us-east-1:{MOCK_ACCOUNT_ID}:sesame-prod-alarms"
    assert all(a["alarmActions"] == [alarm_topic] for a in alarms.values())
    email = [s.inputs for s in home.of_type(SUBSCRIPTION) if s.inputs["protocol"] == "email"]
    assert email == [{"topic": alarm_topic, "protocol": "email", "endpoint": "ops@example.com"}]


def test_the_counter_consumer_reads_the_home_messages_stream_and_is_not_deployed_in_the_second_region(
    home: ProgramRun, second: ProgramRun
) -> None:
    (messages,) = [t for t in home.of_type("aws:dynamodb/table:Table") if t.name == "messages"]
    mapping = home.named("aws:lambda/eventSourceMapping:EventSourceMapping", "count_events-event-source").inputs
    assert mapping["eventSourceArn"] == messages.state["streamArn"]
    assert mapping["functionName"].endswith(":function:sesame-prod-count-events")
    assert mapping["tumblingWindowInSeconds"] > 0 and mapping["bisectBatchOnFunctionError"] is True
    assert mapping["maximumRetryAttempts"] == -1
    ages = [
        a.inputs
        for a in home.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")
        if a.inputs["metricName"] == "IteratorAge"
    ]
    assert [a["dimensions"] for a in ages] == [{"FunctionName": "sesame-prod-count-events"}]
    # the home replica's stream carries every region's writes: a copy elsewhere would only idle
    assert not [r.name for r in second.resources if "count_events" in r.name or "count-events" in json.dumps(r.inputs)]
    assert "count_events" not in second.outputs["functions"]


def test_every_function_has_error_and_throttle_alarms_and_the_api_a_5xx_alarm(home: ProgramRun) -> None:
    alarms = [a.inputs for a in home.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")]
    lambda_alarms = {
        (a["dimensions"]["FunctionName"], a["metricName"]): a for a in alarms if a["namespace"] == "AWS/Lambda"
    }
    functions = [f.inputs["name"] for f in home.of_type(FUNCTION)]
    assert set(lambda_alarms) == {(f, m) for f in functions for m in ("Errors", "Throttles")} | {
        ("sesame-prod-count-events", "IteratorAge")
    }
    assert lambda_alarms[("sesame-prod-webhook", "Errors")]["evaluationPeriods"] == 1
    # a consumer's transient failure is retried by SQS: only errors in three periods in a row are an incident
    assert lambda_alarms[("sesame-prod-sender", "Errors")]["evaluationPeriods"] == 3
    (api,) = [a for a in alarms if a["namespace"] == "AWS/ApiGateway"]
    assert api["metricName"] == "5XXError"
    assert api["dimensions"] == {"ApiName": "sesame-prod", "Stage": "api"}
    assert all(a["treatMissingData"] == "notBreaching" for a in alarms)


def test_a_tripped_guardrail_is_alarmed(home: ProgramRun) -> None:
    (alarm,) = [
        a.inputs
        for a in home.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")
        if a.inputs["metricName"] == "GuardrailTripped"
    ]
    assert alarm["namespace"] == "Sesame" and alarm["dimensions"] == {"stage": "prod-us-east-1"}
    assert alarm["statistic"] == "Sum" and alarm["threshold"] == 0
    assert alarm["comparisonOperator"] == "GreaterThanThreshold"
    assert alarm["alarmActions"] == [f"arn:aws:sns:us-east-1:{MOCK_ACCOUNT_ID}:sesame-prod-alarms"]


def test_app_secrets_parameter_holds_the_settings_document(home: ProgramRun) -> None:
    param = home.of_type("aws:ssm/parameter:Parameter")[0].inputs
    assert param["name"] == "/sesame/prod/app-secrets"
    assert param["type"] == "SecureString"
    doc = json.loads(param["value"])
    assert set(doc) == {
        "unsubscribe_secrets",
        "pagination_secret",
        "forward_secret",
        "redrive_secret",
        "api_key_hashes",
    }
    assert len(doc["redrive_secret"]) == 48  # signs the first-arrival time of redriven SES events (runtime.dlq)
    assert len(doc["unsubscribe_secrets"]) == 1 and len(doc["unsubscribe_secrets"][0]) == 48
    assert doc["api_key_hashes"] == []
    assert home.outputs["appSecrets"] == doc


def test_second_region_reads_the_secrets_generated_by_the_home_stack(home: ProgramRun) -> None:
    from infra.mockrun import run_program
    from tests.support.infra_stacks import example_config

    shared = home.outputs["appSecrets"]
    run = run_program(
        example_config(SECOND_STACK),
        stack=SECOND_STACK,
        stack_outputs={"organization/sesame/prod-us-east-1": {"appSecrets": shared}},
    )
    assert run.of_type("random:index/randomPassword:RandomPassword") == []
    (ref,) = run.of_type("pulumi:pulumi:StackReference")
    assert ref.inputs["name"] == "organization/sesame/prod-us-east-1"
    assert json.loads(run.of_type("aws:ssm/parameter:Parameter")[0].inputs["value"]) == shared
    assert "appSecrets" not in run.outputs


def test_configured_secrets_are_used_as_given_and_no_stack_reference_is_needed() -> None:
    digest = "a" * 64
    run = run_example(
        SECOND_STACK,
        unsubscribeSecrets=json.dumps(["new", "old"]),
        paginationSecret="p",
        forwardSecret="f",
        redriveSecret="r",
        apiKeyHashes=json.dumps([digest]),
    )
    assert run.of_type("pulumi:pulumi:StackReference") == []
    doc = json.loads(run.of_type("aws:ssm/parameter:Parameter")[0].inputs["value"])
    assert doc == {
        "unsubscribe_secrets": ["new", "old"],
        "pagination_secret": "p",
        "forward_secret": "f",
        "redrive_secret": "r",
        "api_key_hashes": [digest],
    }


def test_no_ses_global_endpoint_is_declared_failover_is_client_side(home: ProgramRun, second: ProgramRun) -> None:
    # the global endpoint needs SigV4a (awscrt in the package) and hides which region sent, which the sender's
    # per-region pacing and quotas rely on; the sender fails over to the backup region itself
    for run in (home, second):
        assert not [r for r in run.resources if "multiRegionEndpoint" in r.type]
        assert not [k for k in run.outputs["environmentVariables"] if "ENDPOINT" in k]


def test_failover_outputs_point_each_region_at_the_other(home: ProgramRun, second: ProgramRun) -> None:
    assert home.outputs["backupRegion"] == "eu-west-1"
    assert second.outputs["backupRegion"] == "us-east-1"
    assert second.outputs["environmentVariables"]["SESAME_BACKUP_REGION"] == "us-east-1"
    assert json.loads(second.outputs["environmentVariables"]["SESAME_BACKUP_CONFIGURATION_SETS"]) == {
        "marketing": "sesame-prod-marketing",
        "transactional": "sesame-prod-transactional",
    }


def test_event_archive_delivers_every_event_to_an_encrypted_bucket_with_lifecycle() -> None:
    run = run_example(HOME_STACK, archiveEnabled="true")
    (stream,) = run.of_type("aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream")
    assert stream.inputs["destination"] == "extended_s3"
    assert stream.inputs["extendedS3Configuration"]["bucketArn"] == (
        f"arn:aws:s3:::sesame-prod-us-east-1-archive-{MOCK_ACCOUNT_ID}"
    )
    archive = [d.inputs for d in run.of_type(DESTINATION) if d.inputs["eventDestinationName"] == "archive"]
    assert len(archive) == 2
    assert all(
        d["eventDestination"]["enabled"] is True and len(d["eventDestination"]["matchingEventTypes"]) == 10
        for d in archive
    )
    lifecycle = run.named(
        "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration", "archive-bucket-lifecycle"
    )
    rule = lifecycle.inputs["rules"][0]
    assert rule["transitions"][0] == {"days": 30, "storageClass": "GLACIER_IR"}
    assert rule["expiration"]["days"] == 730
    sse = run.named(
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
        "archive-bucket-encryption",
    )
    assert sse.inputs["rules"][0]["applyServerSideEncryptionByDefault"]["sseAlgorithm"] == "aws:kms"


def test_dashboard_shows_config_sets_reputation_and_queues(second: ProgramRun) -> None:
    dashboard = second.of_type("aws:cloudwatch/dashboard:Dashboard")[0].inputs
    assert dashboard["dashboardName"] == "sesame-prod-eu-west-1"
    body = dashboard["dashboardBody"]
    for needle in ("sesame-prod-marketing", "Reputation.ComplaintRate", "sesame-prod-send-dlq", "bounce rate"):
        assert needle in body


# -- outputs -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("stack", [HOME_STACK, SECOND_STACK])
def test_environment_variables_build_the_runtime_settings(stack: str) -> None:
    run = run_example(stack)
    env = run.outputs["environmentVariables"]
    assert all(isinstance(v, str) for v in env.values())
    settings = Settings.from_env(env)
    region = stack.removeprefix("prod-")
    assert settings.stage == stack
    assert settings.region == region
    assert settings.messages_table == "sesame-prod-messages"
    assert settings.send_queue_url == f"https://sqs.{region}.amazonaws.com/{MOCK_ACCOUNT_ID}/sesame-prod-send"
    assert settings.forward_dlq_url.endswith("/sesame-prod-forward-dlq")
    assert settings.campaign_bucket == f"sesame-prod-{region}-campaigns-{MOCK_ACCOUNT_ID}"
    assert settings.configuration_set_name("marketing") == "sesame-prod-marketing"
    assert settings.sns_allowed_topic_arns == (
        f"arn:aws:sns:{region}:{MOCK_ACCOUNT_ID}:sesame-prod-ses-critical-events",
        f"arn:aws:sns:{region}:{MOCK_ACCOUNT_ID}:sesame-prod-ses-events",
    )
    assert env["SESAME_SECRETS_PARAMETER"] == "/sesame/prod/app-secrets"
    assert (
        env["SESAME_UNSUBSCRIBE_BASE_URL"] == f"https://{run.outputs['apiId']}.execute-api.{region}.amazonaws.com/api"
    )
    assert run.outputs["functionRoles"]["sender"] == f"arn:aws:iam::{MOCK_ACCOUNT_ID}:role/sesame-prod-{region}-sender"
    for function in run.of_type(FUNCTION):  # every function gets the whole environment
        assert function.inputs["environment"]["variables"] == {"SESAME_LOG_LEVEL": "INFO", **env}


#: Settings the stage does not carry as env vars: secrets come from the SSM document, SNS_CERT_DIR is offline-only.
NOT_IN_STAGE = {
    "unsubscribe_secrets",
    "pagination_secret",
    "forward_secret",
    "redrive_secret",
    "api_key_hashes",
    "sns_cert_dir",
}


def test_stage_environment_sets_every_runtime_setting_from_config() -> None:
    run = run_example(
        SECOND_STACK,
        domain="example.net",
        defaultConfigurationSet="transactional",
        eventTtlDays="30",
        softBounceLimit="5",
        softBounceSuppressDays="7",
        dailyQuotaHeadroom="0.1",
        snsMaxAgeSeconds="600",
        maxSendRate="14",
        corsOrigins='["https://app.example.net"]',
        unsubscribeBaseUrl="https://api.example.net",
        unsubscribeMailto="unsubscribe@example.net",
        forwardUrl="https://hooks.example.net/ses",
        warmupStart="2026-11-01",
        warmupPool="warm",
        sendUnknownGraceSeconds="1800",
        pausedRecheckSeconds="60",
        guardrailWindowMinutes="30",
        guardrailMinVolume="200",
        guardrailWarnBounceRate="0.01",
        guardrailWarnComplaintRate="0.0004",
        guardrailPauseBounceRate="0.03",
        guardrailPauseComplaintRate="0.0007",
        forwardRetrySeconds="120",
        forwardAttempts="5",
        dedicatedIpPools='{"warm": {}}',
        configurationSets='{"marketing": {"tracking": true}, "transactional": {"ipPool": "warm"}}',
    )
    settings = Settings.from_env(run.outputs["environmentVariables"])
    assert (settings.soft_bounce_limit, settings.soft_bounce_suppress_days) == (5, 7)
    assert settings.daily_quota_headroom == 0.1
    assert settings.sns_max_age_seconds == 600
    assert settings.event_ttl_days == 30
    defaults = Settings()
    names = [f.name for f in dataclasses.fields(Settings)]
    unset = [f for f in names if f not in NOT_IN_STAGE and getattr(settings, f) == getattr(defaults, f)]
    assert unset == []


def test_pulumi_entry_exports_what_the_program_returns(second: ProgramRun) -> None:
    from infra.mockrun import run_program
    from tests.support.infra_stacks import ROOT, example_config

    via_main = run_program(example_config(SECOND_STACK), stack=SECOND_STACK, entry=ROOT / "__main__.py")
    assert via_main.outputs == second.outputs
    assert via_main.type_counts() == second.type_counts()


CREDENTIAL_URL = "https://user:p4ss@hooks.example.net/ses?key=k3y"


def _function_environments(run: ProgramRun) -> str:
    return json.dumps([f.inputs.get("environment") for f in run.of_type(FUNCTION)])


def test_a_forward_url_carrying_credentials_is_a_secret_never_exported_in_plain_text() -> None:
    run = run_example(SECOND_STACK, forwardUrl=CREDENTIAL_URL)
    env = run.outputs["environmentVariables"]
    assert "SESAME_FORWARD_URL" not in env  # not in the stack outputs nor any function's environment
    assert not any(secret in json.dumps(run.outputs) for secret in ("p4ss", "k3y"))
    assert not any(secret in _function_environments(run) for secret in ("p4ss", "k3y"))
    doc = json.loads(run.of_type("aws:ssm/parameter:Parameter")[0].inputs["value"])
    assert doc["forward_url"] == CREDENTIAL_URL  # in the SSM SecureString instead
    assert Settings.from_env(env, secrets_loader=lambda name: doc).forward_url == CREDENTIAL_URL


def test_a_forward_url_set_with_pulumi_config_set_secret_is_a_secret_too() -> None:
    from infra.mockrun import run_program
    from tests.support.infra_stacks import example_config

    url = "https://hooks.example.net/T000/B000/abcdef"  # a token in the path: only --secret tells
    config = {**example_config(SECOND_STACK), "sesame:forwardUrl": url}
    run = run_program(config, stack=SECOND_STACK, secret_keys=["sesame:forwardUrl"])
    assert "SESAME_FORWARD_URL" not in run.outputs["environmentVariables"]
    assert "abcdef" not in json.dumps(run.outputs) and "abcdef" not in _function_environments(run)
    assert json.loads(run.of_type("aws:ssm/parameter:Parameter")[0].inputs["value"])["forward_url"] == url


def test_a_plain_forward_url_stays_plain_configuration() -> None:
    run = run_example(SECOND_STACK, forwardUrl="https://hooks.example.net/ses")
    assert run.outputs["environmentVariables"]["SESAME_FORWARD_URL"] == "https://hooks.example.net/ses"
    assert "forward_url" not in json.loads(run.of_type("aws:ssm/parameter:Parameter")[0].inputs["value"])
