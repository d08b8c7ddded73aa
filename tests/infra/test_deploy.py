"""What makes `pulumi up` deploy for real, under Pulumi mocks: ordering against SES and ACM, DNS phases without a
hosted zone, brownfield adoption, two environments side by side, data protection, and the app itself (functions,
API, event source mappings, schedule, logs) deployed by the same program."""

from __future__ import annotations

import json

import pytest

from infra.app_spec import load_app_spec
from infra.config import SENDER_BATCH_SIZE
from infra.mockrun import ProgramRun
from infra.policy.checks import CHECKS, run_all
from tests.support.infra_stacks import HOME_STACK, ROOT, SECOND_STACK, policy_resources, run_example

VERIFICATION = "aws:ses/domainIdentityVerification:DomainIdentityVerification"
IDENTITY = "aws:sesv2/emailIdentity:EmailIdentity"
CONFIG_SET = "aws:sesv2/configurationSet:ConfigurationSet"
RECORD = "aws:route53/record:Record"
DISTRIBUTION = "aws:cloudfront/distribution:Distribution"
CERT_VALIDATION = "aws:acm/certificateValidation:CertificateValidation"
FUNCTION = "aws:lambda/function:Function"
ESM = "aws:lambda/eventSourceMapping:EventSourceMapping"
API = "aws:apigateway/restApi:RestApi"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"


@pytest.fixture(scope="module")
def home() -> ProgramRun:
    return run_example(HOME_STACK)


@pytest.fixture(scope="module")
def second() -> ProgramRun:
    return run_example(SECOND_STACK)


# -- SES verification gates the tracking domain ------------------------------------------------------------------


@pytest.mark.parametrize("stack", [HOME_STACK, SECOND_STACK])
def test_configuration_set_with_tracking_waits_for_ses_verification_and_the_tracking_domain(stack: str) -> None:
    run = run_example(stack)
    (verification,) = run.of_type(VERIFICATION)
    assert verification.inputs["domain"] == "example.com"
    marketing = run.named(CONFIG_SET, "config-set-marketing")
    assert marketing.inputs["trackingOptions"]["customRedirectDomain"].startswith("track-prod-")
    assert run.depends_on(marketing, verification)
    assert run.depends_on(marketing, run.of_type(DISTRIBUTION)[0])
    for alias in ("tracking-alias-a", "tracking-alias-aaaa"):
        assert run.depends_on(marketing, run.named(RECORD, alias))


def test_ses_verification_waits_for_the_dkim_records_it_needs(home: ProgramRun) -> None:
    (verification,) = home.of_type(VERIFICATION)
    for index in range(3):
        assert home.depends_on(verification, home.named(RECORD, f"identity-dkim-{index}"))
    assert verification.options.create_timeout == "1h"


# -- without a hosted zone: records first, waits once they are visible ---------------------------------------------


def test_without_a_zone_the_first_run_waits_on_nothing_and_exports_every_record() -> None:
    run = run_example(HOME_STACK, hostedZoneId="")
    assert run.of_type(VERIFICATION) == []
    assert run.of_type(CERT_VALIDATION) == []
    (distribution,) = run.of_type(DISTRIBUTION)
    assert "aliases" not in distribution.inputs  # the alias needs the validated certificate
    assert distribution.inputs["viewerCertificate"] == {"cloudfrontDefaultCertificate": True}
    marketing = run.named(CONFIG_SET, "config-set-marketing").inputs
    assert "trackingOptions" not in marketing  # SES's default tracking domain until the records exist
    assert run.outputs["trackingDomainInUse"] is False
    records = {(r["type"], r["name"]): r["value"] for r in run.outputs["manualDnsRecords"]}
    # the tracking CNAME's target is known in the first run: the user adds every record in one go
    assert records[("CNAME", "track-prod-us-east-1.example.com")] == distribution.state["domainName"]
    assert sum(1 for kind, name in records if "._domainkey." in name) == 3
    assert "dnsRecordsReady true" in run.outputs["nextStep"]


def test_once_the_records_are_ready_the_waits_and_the_tracking_domain_are_added() -> None:
    first = run_example(HOME_STACK, hostedZoneId="")
    ready = run_example(HOME_STACK, hostedZoneId="", dnsRecordsReady="true")
    (verification,) = ready.of_type(VERIFICATION)
    (validation,) = ready.of_type(CERT_VALIDATION)
    (distribution,) = ready.of_type(DISTRIBUTION)
    assert distribution.inputs["aliases"] == ["track-prod-us-east-1.example.com"]
    assert ready.depends_on(distribution, validation)
    marketing = ready.named(CONFIG_SET, "config-set-marketing")
    assert marketing.inputs["trackingOptions"]["httpsPolicy"] == "REQUIRE"
    assert ready.depends_on(marketing, verification)
    assert ready.of_type(RECORD) == []
    assert "nextStep" not in ready.outputs
    # the same records as the first run: nothing new to add at the DNS provider
    assert ready.outputs["manualDnsRecords"] == first.outputs["manualDnsRecords"]


# -- brownfield ----------------------------------------------------------------------------------------------------


def test_an_existing_identity_is_adopted_by_import_and_its_dkim_records_taken_over() -> None:
    run = run_example(HOME_STACK, adoptIdentity="true")
    (identity,) = run.of_type(IDENTITY)
    assert identity.options.import_id == "example.com"
    dkim = [run.named(RECORD, f"identity-dkim-{i}") for i in range(3)]
    assert all(r.inputs["allowOverwrite"] is True for r in dkim)
    others = [r for r in run.of_type(RECORD) if r not in dkim]
    assert all(r.inputs.get("allowOverwrite", False) is False for r in others)  # nothing else is silently overwritten


def test_an_existing_dmarc_record_is_imported_and_accepted_by_the_policy_pack() -> None:
    existing = "v=DMARC1; p=reject; rua=mailto:reports@example.com; adkim=s"
    run = run_example(HOME_STACK, adoptDmarc="true", dmarcRecord=existing)
    dmarc = run.named(RECORD, "identity-dmarc")
    assert dmarc.options.import_id == "Z0123456789EXAMPLE__dmarc.example.com_TXT"
    assert dmarc.inputs["records"] == [existing]
    assert run_all(policy_resources(run)) == {name: [] for name in CHECKS}


def test_without_adoption_nothing_is_imported(home: ProgramRun) -> None:
    assert not [r.name for r in home.resources if r.options.import_id]


# -- two environments in one account and region ------------------------------------------------------------------

#: inputs that name something AWS keeps unique per account, region or zone
UNIQUE_INPUTS = ("name", "configurationSetName", "emailIdentity", "bucket", "poolName", "dashboardName", "domain")


def _unique_names(run: ProgramRun) -> set[tuple[str, str]]:
    names = set()
    for r in run.resources:
        if not r.custom or r.type.startswith(("pulumi:", "random:")):
            continue
        for key in UNIQUE_INPUTS:
            value = r.inputs.get(key)
            if isinstance(value, str):
                names.add((r.type, value))
        for alias in r.inputs.get("aliases") or []:
            if isinstance(alias, str):
                names.add((r.type + "#alias", alias))
    return names


def test_staging_deploys_beside_prod_in_the_same_account_region_and_zone(home: ProgramRun) -> None:
    staging = run_example(HOME_STACK, environment="staging", domainOwner="prod", alarmEmail=None)
    clashes = _unique_names(home) & _unique_names(staging)
    # only the identity's verification (a wait, not a resource of its own) names the shared domain in both
    assert clashes == {(VERIFICATION, "example.com")}
    assert staging.of_type(IDENTITY) == []
    assert staging.of_type("aws:sesv2/emailIdentityMailFromAttributes:EmailIdentityMailFromAttributes") == []
    staging_records = {r.inputs["name"] for r in staging.of_type(RECORD)}
    assert not any("_domainkey" in n or n.startswith(("_dmarc", "bounce-")) for n in staging_records)
    assert staging.outputs["trackingDomain"] == "track-staging-us-east-1.example.com"
    assert staging.outputs["identityArn"] == home.outputs["identityArn"]
    assert run_all(policy_resources(staging)) == {name: [] for name in CHECKS}


# -- data is protected, the app is not -----------------------------------------------------------------------------


def test_in_production_nothing_that_holds_data_can_be_deleted_or_replaced(home: ProgramRun) -> None:
    protected = {(r.type, r.name) for r in home.resources if r.options.protect}
    assert protected == {
        *(("aws:dynamodb/table:Table", t) for t in ("messages", "campaigns", "suppressions", "control")),
        *(
            ("random:index/randomPassword:RandomPassword", s)
            for s in ("unsubscribe-secrets", "pagination-secret", "forward-secret", "redrive-secret")
        ),
        ("aws:ssm/parameter:Parameter", "app-secrets"),
    }
    archived = run_example(HOME_STACK, archiveEnabled="true")
    assert archived.named("aws:s3/bucket:Bucket", "archive-bucket").options.protect


def test_outside_production_the_whole_stack_can_be_torn_down() -> None:
    staging = run_example(HOME_STACK, environment="staging")
    assert [r.name for r in staging.resources if r.options.protect] == []


# -- the app, deployed by the same program -------------------------------------------------------------------------


def test_every_handler_of_the_chalice_app_becomes_a_function_with_its_handler(
    home: ProgramRun, second: ProgramRun
) -> None:
    spec = load_app_spec(ROOT)
    functions = {f.name.removesuffix("-function"): f.inputs for f in home.of_type(FUNCTION)}
    assert set(functions) == set(spec.handlers)
    # the messages stream's consumer reads the home replica's stream only (it carries every region's writes)
    elsewhere = {f.name.removesuffix("-function") for f in second.of_type(FUNCTION)}
    assert elsewhere == set(spec.handlers) - {"count_events"}
    assert functions["sender"]["handler"] == "chalicelib.sending.send_batch"
    assert functions["critical_events"]["handler"] == "chalicelib.events_handlers.critical_events"
    for name in ("api", "webhook", "unsubscribe"):
        assert functions[name]["handler"] == "app.app"
    assert {f["runtime"] for f in functions.values()} == {"python3.11"}
    assert {f["code"]["fileArchive"] for f in functions.values()} == {str(ROOT / "out" / "lambda" / "deployment.zip")}


def test_the_api_function_gets_its_configured_memory() -> None:
    run = run_example(SECOND_STACK, functions='{"api": {"memory": 1536, "timeout": 20}}')
    api = run.named(FUNCTION, "api-function").inputs
    assert (api["memorySize"], api["timeout"]) == (1536, 20)
    assert run.named(FUNCTION, "sender-function").inputs["memorySize"] == 256  # its default


def test_routes_go_to_their_own_functions_and_the_api_needs_no_function_to_exist(second: ProgramRun) -> None:
    api = second.of_type(API)[0]
    body = json.loads(api.inputs["body"])
    assert set(body["paths"]) == set(load_app_spec(ROOT).routes())
    targets = {}
    for path, methods in body["paths"].items():
        for method, operation in methods.items():
            uri = operation["x-amazon-apigateway-integration"]["uri"]
            targets[(path, method)] = uri.split(":function:")[1].removesuffix("/invocations")
    assert targets[("/webhooks/ses", "post")] == "sesame-prod-webhook"
    assert targets[("/unsubscribe", "get")] == targets[("/unsubscribe", "post")] == "sesame-prod-unsubscribe"
    assert targets[("/campaigns", "post")] == "sesame-prod-api"
    assert set(targets.values()) == {"sesame-prod-api", "sesame-prod-webhook", "sesame-prod-unsubscribe"}
    # no cycle: the functions' environment needs the API's id, so the API must not wait for a function
    assert not any(second.depends_on(api, f) for f in second.of_type(FUNCTION))
    url = second.outputs["apiUrl"]
    assert url == f"https://{second.outputs['apiId']}.execute-api.eu-west-1.amazonaws.com/api"
    assert second.outputs["environmentVariables"]["SESAME_UNSUBSCRIBE_BASE_URL"] == url


def test_api_gateway_may_invoke_each_http_function_for_its_routes_only(second: ProgramRun) -> None:
    permissions = {p.name: p.inputs for p in second.of_type("aws:lambda/permission:Permission")}
    execution = f"arn:aws:execute-api:eu-west-1:123456789012:{second.outputs['apiId']}"
    assert permissions["webhook-api-permission"]["sourceArn"] == f"{execution}/*/POST/webhooks/ses"
    assert permissions["unsubscribe-api-permission"]["sourceArn"] == f"{execution}/*/*/unsubscribe"
    assert permissions["api-api-permission"]["sourceArn"] == f"{execution}/*"
    assert {p["principal"] for n, p in permissions.items() if n.endswith("-api-permission")} == {
        "apigateway.amazonaws.com"
    }
    deployment = second.named("aws:apigateway/deployment:Deployment", "api-deployment")
    for name in ("api", "webhook", "unsubscribe"):
        assert second.depends_on(deployment, second.named("aws:lambda/permission:Permission", f"{name}-api-permission"))


def test_queue_consumers_report_partial_failures_and_are_capped() -> None:
    run = run_example(SECOND_STACK, maxSendRate="200")
    spec = load_app_spec(ROOT)
    mappings = {m.name.removesuffix("-event-source"): m.inputs for m in run.of_type(ESM)}
    assert set(mappings) == {"sender", "critical_events", "engagement_events", "forward_events"}
    for fn, mapping in mappings.items():
        handler = spec.handlers[fn]
        assert mapping["eventSourceArn"] == f"arn:aws:sqs:eu-west-1:123456789012:sesame-prod-{handler.queue}"
        assert mapping["functionName"].endswith(f":function:sesame-prod-{fn.replace('_', '-')}")
        assert mapping["functionResponseTypes"] == ["ReportBatchItemFailures"]
        assert mapping["batchSize"] == handler.batch_size
    assert mappings["engagement_events"]["maximumBatchingWindowInSeconds"] == 15
    assert mappings["sender"]["scalingConfig"] == {"maximumConcurrency": 8}  # 200/s over ~25 per instance
    assert spec.handlers["sender"].batch_size == SENDER_BATCH_SIZE  # the batch the per-instance figure assumes
    assert mappings["forward_events"]["scalingConfig"] == {"maximumConcurrency": 10}
    assert run.outputs["senderConcurrency"] == 8
    # the role may poll before the mapping exists
    assert run.depends_on(
        run.named(ESM, "sender-event-source"), run.named("aws:iam/rolePolicy:RolePolicy", "sender-policy")
    )


def test_public_functions_have_reserved_concurrency(second: ProgramRun) -> None:
    reserved = {f.inputs["name"]: f.inputs.get("reservedConcurrentExecutions") for f in second.of_type(FUNCTION)}
    assert reserved["sesame-prod-webhook"] == 50
    assert reserved["sesame-prod-unsubscribe"] == 20
    assert reserved["sesame-prod-sender"] is None  # capped by its event source mapping instead


def test_the_campaign_check_runs_every_minute(second: ProgramRun) -> None:
    (rule,) = second.of_type("aws:cloudwatch/eventRule:EventRule")
    assert rule.inputs["scheduleExpression"] == load_app_spec(ROOT).handlers["check_for_campaign"].schedule
    assert rule.inputs["name"] == "sesame-prod-check-for-campaign"
    (target,) = second.of_type("aws:cloudwatch/eventTarget:EventTarget")
    assert target.inputs["arn"].endswith(":function:sesame-prod-check-for-campaign")
    permission = second.named("aws:lambda/permission:Permission", "check_for_campaign-schedule-permission").inputs
    assert (permission["principal"], permission["sourceArn"]) == ("events.amazonaws.com", rule.state["arn"])


def test_every_function_logs_to_a_log_group_the_stack_creates_with_a_retention() -> None:
    for run, days in ((run_example(SECOND_STACK), 30), (run_example(SECOND_STACK, logRetentionDays="90"), 90)):
        groups = {g.inputs["name"]: g for g in run.of_type(LOG_GROUP)}
        for function in run.of_type(FUNCTION):
            group = groups[f"/aws/lambda/{function.inputs['name']}"]
            assert group.inputs["retentionInDays"] == days
            assert function.inputs["loggingConfig"]["logGroup"] == group.inputs["name"]
            assert run.depends_on(function, group)


def test_the_pulumi_entry_builds_no_package_under_mocks(second: ProgramRun) -> None:
    # infra.mockrun supplies a stand-in package: tests and the local stack never run `chalice package`
    codes = {f.inputs["sourceCodeHash"] for f in second.of_type(FUNCTION)}
    assert codes == {"mocked-package"}


# -- limits AWS enforces (the emulator does not) -------------------------------------------------------------------


def test_every_function_environment_fits_lambdas_4_kb_with_every_option_set() -> None:
    run = run_example(
        SECOND_STACK,
        webhook="true",
        forwardUrl="https://hooks.example.com/sesame/events/ingest",
        corsOrigins='["https://app.example.com", "https://admin.example.com"]',
        unsubscribeMailto="unsubscribe@example.com",
        warmupStart="2026-01-01",
        dedicatedIpPools='{"warm": {}}',
        warmupPool="warm",
        maxSendRate="200",
        configurationSets=json.dumps({f"set{i}": {"tracking": i == 0} for i in range(8)}),
        defaultConfigurationSet="set0",
    )
    for function in run.of_type(FUNCTION):
        env = function.inputs["environment"]["variables"]
        assert sum(len(k) + len(v) for k, v in env.items()) < 4096, function.name


def test_role_policies_fit_iams_inline_size_with_many_configuration_sets() -> None:
    run = run_example(
        SECOND_STACK,
        configurationSets=json.dumps({f"set-{i:02d}": {} for i in range(20)}),
        defaultConfigurationSet="set-00",
    )
    for policy in run.of_type("aws:iam/rolePolicy:RolePolicy"):
        # IAM counts the policy without whitespace: 10,240 characters per role
        assert len(json.dumps(json.loads(policy.inputs["policy"]), separators=(",", ":"))) < 10240, policy.name


def test_names_fit_aws_limits_for_the_longest_environment_and_region() -> None:
    config = {
        "aws:region": "ap-southeast-2",
        "sesame:environment": "e" * 16,
        "sesame:regions": '["ap-southeast-2"]',
        "sesame:homeRegion": "ap-southeast-2",
        "sesame:domain": "example.com",
        "sesame:hostedZoneId": "",
    }
    from infra.mockrun import run_program

    run = run_program(config)
    limits = {  # resource type -> (input, AWS's limit)
        "aws:iam/role:Role": ("name", 64),
        FUNCTION: ("name", 64),
        "aws:cloudwatch/eventRule:EventRule": ("name", 64),
        "aws:sqs/queue:Queue": ("name", 80),
        CONFIG_SET: ("configurationSetName", 64),
        "aws:s3/bucket:Bucket": ("bucket", 63),
        LOG_GROUP: ("name", 512),
        "aws:cloudwatch/metricAlarm:MetricAlarm": ("name", 255),
    }
    for token, (key, limit) in limits.items():
        for resource in run.of_type(token):
            assert len(resource.inputs[key]) <= limit, (token, resource.inputs[key])
