"""Both regions run the per-minute campaign check against the replicated campaigns table: exactly one launches.

A DynamoDB global table checks a conditional write against the writer's own replica only and replicates with
last-writer-wins, so two regions that both see ``scheduled`` can both claim the campaign. Each region here has its
own moto table (its replica); ``replicate`` copies items between them as DynamoDB replication does, later write
winning. The claims are interleaved so that each region checks before the other's claim has replicated.
"""

from __future__ import annotations

import boto3
import pytest
from moto import mock_aws

from runtime.sender.enqueue import Enqueuer
from runtime.sender.service import CampaignConfig, CampaignService, InMemoryPayloadStore
from runtime.sender.templates import TemplateLoader, TemplatePublisher
from runtime.stores.campaigns import DynamoCampaignStore
from runtime.stores.tables import create_tables
from tests.support.sender_fakes import FakeSes, SimClock
from tests.unit.test_campaign_service import FakeS3, FakeSqs, candidate

REGIONS = ("us-east-1", "eu-west-1")
TABLE = "sesame-prod-campaigns"


class InterleavingSqs(FakeSqs):
    """The send queue of one region; ``meanwhile`` runs once, when that region starts enqueueing a launch."""

    def __init__(self):
        super().__init__()
        self.meanwhile = None

    def send_message_batch(self, QueueUrl, Entries):
        if self.meanwhile is not None:
            run, self.meanwhile = self.meanwhile, None
            run()
        return super().send_message_batch(QueueUrl, Entries)


def replicate(clients: dict[str, object]) -> None:
    """Copy every item to every replica; for one key the latest ``updated_at`` wins (last writer wins)."""
    latest: dict[tuple[str, str], dict] = {}
    for client in clients.values():
        for item in client.scan(TableName=TABLE)["Items"]:
            key = (item["campaign_id"]["S"], item["sk"]["S"])
            stamp = item.get("updated_at", {}).get("S", "")
            if key not in latest or stamp >= latest[key].get("updated_at", {}).get("S", ""):
                latest[key] = item
    for client in clients.values():
        for item in latest.values():
            client.put_item(TableName=TABLE, Item=item)


@pytest.fixture
def regions():
    with mock_aws():
        clock = SimClock(now=1_800_000_000.0)
        clients, services, queues = {}, {}, {}
        s3 = FakeS3({("tpl-bucket", "welcome.html"): "<html><title>Hi</title><p>Hi {{name}}</p></html>"})
        payloads: dict = {}
        for region in REGIONS:
            client = boto3.client("dynamodb", region_name=region)
            create_tables(client, "prod")
            clients[region] = client
            queues[region] = InterleavingSqs()
            store = InMemoryPayloadStore(bucket=f"sesame-prod-{region}-campaigns-123456789012")
            # the payload objects are where S3 keeps them, whichever region reads
            store.objects = payloads
            ses = {r: FakeSes(r) for r in REGIONS}
            services[region] = CampaignService(
                config=CampaignConfig(regions=list(REGIONS), default_from="news@example.com"),
                store=DynamoCampaignStore(client, TABLE),
                loader=TemplateLoader(lambda: s3),
                publisher=TemplatePublisher(lambda r, ses=ses: ses[r]),
                enqueuer=lambda queue=queues[region]: Enqueuer(queue, "https://sqs/send", sleep=lambda s: None),
                payloads=lambda store=store: store,
                clock=clock,
            )
        yield clients, services, queues, clock


@pytest.mark.parametrize("submitted_in", REGIONS)
def test_a_scheduled_campaign_is_launched_by_one_region_when_both_check_before_replication(regions, submitted_in):
    clients, services, queues, clock = regions
    services[submitted_in].submit(candidate(date="2027-01-20T10:00:00Z"))
    replicate(clients)  # the scheduled campaign reached both replicas long before it is due
    clock.now += 86_400 * 400

    # the minute check runs in both regions at once: while the first is enqueueing (it has claimed the campaign
    # and read the payload), the second checks its replica, where the claim has not arrived yet
    first, second = submitted_in, next(r for r in REGIONS if r != submitted_in)
    launched: dict[str, list] = {}
    queues[first].meanwhile = lambda: launched.__setitem__(second, services[second].launch_due())
    launched[first] = services[first].launch_due()
    replicate(clients)
    launched_again = {region: services[region].launch_due() for region in REGIONS}

    launchers = sorted(region for region, done in launched.items() if done)
    assert launchers == [submitted_in]
    assert all(done == [] for done in launched_again.values())
    sent = {region: len(queue.bodies) for region, queue in queues.items()}
    assert sent[submitted_in] == 2 and sum(sent.values()) == 2
    for client in clients.values():
        meta = client.get_item(TableName=TABLE, Key={"campaign_id": {"S": "launch"}, "sk": {"S": "META"}})["Item"]
        assert meta["status"]["S"] == "launched"


def test_the_other_regions_claim_is_refused_even_when_its_replica_shows_the_campaign_due(regions):
    clients, services, _, clock = regions
    services["us-east-1"].submit(candidate(date="2027-01-20T10:00:00Z"))
    replicate(clients)
    clock.now += 86_400 * 400
    store = DynamoCampaignStore(clients["eu-west-1"], TABLE)
    (due,) = store.due("2099-01-01T00:00:00.000Z")
    assert due.status == "scheduled"
    mine = "sesame-prod-eu-west-1-campaigns-123456789012"
    assert (
        store.claim_launch("launch", "2028-01-01T00:00:00.000Z", "2028-01-01T00:10:00.000Z", payload_bucket=mine)
        is None
    )
