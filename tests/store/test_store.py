"""The history store's behaviour, identical on SQLite and PostgreSQL."""

from __future__ import annotations

from residency.drift import DriftKind
from residency.model import Outcome, Verdict
from residency.store import RunNotFound, Store, TargetSpec, open_store
from residency.store.migrations import MIGRATIONS, Migration, migrate, schema_version
from tests.store.builders import Addr, Host, audit_result

API = "api.example.com"


def count(store: Store, table: str) -> int:
    with store.backend.transaction(write=False) as tx:
        return int(tx.execute(f"SELECT COUNT(*) FROM {table}").scalar())


def kinds(outcome_events: object) -> list[str]:
    return [c.kind.value for c in outcome_events]  # type: ignore[attr-defined]


def test_schema_is_migrated_once(store: Store, db_url: str) -> None:
    assert schema_version(store.backend) == max(m.version for m in MIGRATIONS)
    again = open_store(db_url)
    try:
        assert migrate(again.backend) == []
    finally:
        again.close()


def test_postgresql_tables_updated_in_place_leave_room_for_hot_updates(store: Store) -> None:
    if store.backend.dialect != "postgresql":
        return  # SQLite has no fill factor
    with store.backend.transaction(write=False) as tx:
        options = dict(
            tx.execute(
                "SELECT relname, array_to_string(reloptions, ',') FROM pg_class"
                " WHERE relnamespace = current_schema()::regnamespace AND relkind = 'r'"
            ).rows
        )
    for table in ("endpoint", "endpoint_state", "observation", "target"):
        assert options[table] == "fillfactor=70", table


def test_new_migration_is_applied_and_recorded(store: Store) -> None:
    def add_column(tx, dialect):  # type: ignore[no-untyped-def]
        tx.execute("ALTER TABLE run ADD COLUMN extra TEXT")

    extra = (*MIGRATIONS, Migration(99, "test column", add_column))
    assert migrate(store.backend, extra) == [99]
    assert migrate(store.backend, extra) == []
    with store.backend.transaction(write=False) as tx:
        names = [r[0] for r in tx.query("SELECT name FROM schema_migrations ORDER BY version")]
    assert names[-1] == "test column"


def test_unchanged_checks_update_in_place(store: Store) -> None:
    host = Host(API, (Addr("192.0.2.1"), Addr("192.0.2.2")), cname=("edge.cdn.test",))
    first = store.record(audit_result("run-1", 1000, [host]))
    assert first.inserted and first.changed == 1 and first.events == ()
    sizes = {t: count(store, t) for t in ("endpoint_state", "observation", "facts")}
    for i in range(2, 6):
        out = store.record(audit_result(f"run-{i}", 1000 * i, [host]))
        assert out.changed == 0 and out.events == ()
    assert {t: count(store, t) for t in sizes} == sizes
    timeline = store.history(API)
    assert len(timeline.spans) == 1
    span = timeline.spans[0]
    assert span.checks == 5 and span.first_run == "run-1" and span.last_run == "run-5"
    assert span.first_seen.startswith("1970-01-01T00:16:40")
    assert span.last_seen.startswith("1970-01-01T01:23:20")
    assert {loc.ip for loc in timeline.locations} == {"192.0.2.1", "192.0.2.2"}
    assert all(loc.last_seen.startswith("1970-01-01T01:23:20") for loc in timeline.locations)


def test_same_run_twice_is_stored_once(store: Store) -> None:
    result = audit_result("run-x", 1000, [Host(API, (Addr("192.0.2.1"),))])
    assert store.record(result).inserted
    replay = store.record(result)
    assert not replay.inserted
    assert count(store, "run") == 1 and store.history(API).spans[0].checks == 1


def test_drift_events_for_each_change(store: Store) -> None:
    before = Host(
        API,
        (Addr("192.0.2.1"), Addr("192.0.2.2")),
        cname=("a.cdn.test",),
        verdict=Verdict.PASS,
    )
    after = Host(
        API,
        (
            Addr("192.0.2.1", country="US", provider="gcp", region="us-east1", asn=15169),
            Addr("192.0.2.3"),
        ),
        cname=("b.cdn.test",),
        verdict=Verdict.FAIL,
    )
    store.record(audit_result("r1", 1000, [before], policy=True))
    out = store.record(audit_result("r2", 2000, [after], policy=True))
    assert sorted(kinds(out.events)) == sorted(
        [
            "cname-changed",
            "address-appeared",
            "address-disappeared",
            "country-changed",
            "provider-changed",
            "region-changed",
            "asn-changed",
            "verdict-changed",
        ]
    )
    events = store.history(API).events
    assert len(events) == 8 and all(e.run_id == "r2" for e in events)
    country = next(e for e in events if e.kind == DriftKind.COUNTRY_CHANGED)
    assert (country.ip, country.before, country.after) == ("192.0.2.1", "DE", "US")
    verdict = next(e for e in events if e.kind == DriftKind.VERDICT_CHANGED)
    assert (verdict.before, verdict.after) == ("PASS", "FAIL")


def test_data_update_moving_an_unchanged_address(store: Store) -> None:
    old = Host(API, (Addr("192.0.2.1", region="eu-central-1"),))
    new = Host(API, (Addr("192.0.2.1", country="IE", region="eu-west-1"),))
    store.record(audit_result("r1", 1000, [old], data_version="2026-02-21"))
    out = store.record(audit_result("r2", 2000, [new], data_version="2026-08-22"))
    assert kinds(out.events) == ["moved-by-data-update"]
    assert "eu-central-1" in (out.events[0].before or "")
    assert "eu-west-1" in (out.events[0].after or "")


def test_data_update_without_a_move_keeps_rows_but_new_evidence(store: Store) -> None:
    host = Host(API, (Addr("192.0.2.1"),))
    store.record(audit_result("r1", 1000, [host], data_version="v1"))
    out = store.record(audit_result("r2", 2000, [host], data_version="v2"))
    assert out.changed == 0 and out.events == ()
    assert count(store, "observation") == 1
    assert count(store, "facts") == 2  # evidence of both versions kept


def test_resolution_outcome_change(store: Store) -> None:
    store.record(audit_result("r1", 1000, [Host(API, (Addr("192.0.2.1"),))]))
    out = store.record(audit_result("r2", 2000, [Host(API, outcome=Outcome.NXDOMAIN)]))
    assert sorted(kinds(out.events)) == ["address-disappeared", "resolution-changed"]


def test_flapping_back_opens_a_new_span(store: Store) -> None:
    a = Host(API, (Addr("192.0.2.1"),))
    b = Host(API, (Addr("192.0.2.9"),))
    for i, host in enumerate([a, b, a], start=1):
        store.record(audit_result(f"r{i}", 1000 * i, [host]))
    spans = store.history(API).spans
    assert [s.body["addresses"][0]["ip"] for s in spans] == ["192.0.2.1", "192.0.2.9", "192.0.2.1"]
    locations = store.history(API).locations
    assert [loc.ip for loc in locations] == ["192.0.2.1", "192.0.2.9", "192.0.2.1"]
    assert [loc.current for loc in locations] == [False, False, True]


def test_late_check_does_not_become_current(store: Store) -> None:
    store.record(audit_result("new", 2000, [Host(API, (Addr("192.0.2.1"),))]))
    late = store.record(audit_result("old", 1000, [Host(API, (Addr("192.0.2.7"),))]))
    assert late.inserted and late.events == ()
    spans = store.history(API).spans
    assert len(spans) == 1 and spans[0].body["addresses"][0]["ip"] == "192.0.2.1"


def test_vantages_are_separate_histories(store: Store) -> None:
    store.record(audit_result("de", 1000, [Host(API, (Addr("192.0.2.1"),))], vantages=["DE"]))
    store.record(audit_result("us", 1100, [Host(API, (Addr("192.0.2.9"),))], vantages=["US"]))
    timeline = store.history(API)
    assert timeline.endpoints == (f"{API} @DE", f"{API} @US")
    assert timeline.events == ()


def test_diff_last_two_runs_and_by_reference(store: Store) -> None:
    other = Host("static.example.com", (Addr("198.51.100.1"),))
    store.record(audit_result("aaaa-1", 1000, [Host(API, (Addr("192.0.2.1"),)), other]))
    store.record(audit_result("bbbb-2", 2000, [Host(API, (Addr("192.0.2.1"),)), other]))
    store.record(audit_result("cccc-3", 3000, [Host(API, (Addr("192.0.2.2"),)), other]))
    last = store.diff()
    assert (last.run_a.id, last.run_b.id) == ("bbbb-2", "cccc-3")
    assert [e.host for e in last.entries] == [API]
    assert sorted(kinds(last.entries[0].changes)) == ["address-appeared", "address-disappeared"]
    first_two = store.diff("aaaa", "bbbb")
    assert first_two.entries == ()
    across = store.diff("#1", "#3")
    assert [e.host for e in across.entries] == [API]
    try:
        store.diff("nope", "cccc")
    except RunNotFound as err:
        assert "nope" in str(err)
    else:  # pragma: no cover
        raise AssertionError("expected RunNotFound")


def test_diff_needs_two_runs(store: Store) -> None:
    store.record(audit_result("only", 1000, [Host(API, (Addr("192.0.2.1"),))]))
    try:
        store.diff()
    except RunNotFound as err:
        assert "diff needs two" in str(err)
    else:  # pragma: no cover
        raise AssertionError("expected RunNotFound")


def test_compliance_report(store: Store) -> None:
    good = Host(API, (Addr("192.0.2.1"),), verdict=Verdict.PASS)
    bad = Host(API, (Addr("192.0.2.1", country="US", region="us-east-1"),), verdict=Verdict.FAIL)
    # PASS 0..600, FAIL 600..900, PASS again 900..1000 (checks every 100 s)
    for t in range(0, 1001, 100):
        host = bad if 600 <= t < 900 else good
        store.record(audit_result(f"r{t}", 100_000 + t, [host], policy=True))
    report = store.report(100_000, 101_000)
    (entry,) = report.endpoints
    assert entry.checks == 11 and entry.judged_checks == 11 and entry.compliant_checks == 8
    assert entry.uptime is not None and abs(entry.uptime - 0.7) < 1e-9
    assert entry.current_verdict == int(Verdict.PASS)
    places = [(loc.country, loc.first_seen, loc.last_seen) for loc in entry.locations]
    assert ("US", "1970-01-02T03:56:40Z", "1970-01-02T04:00:00Z") in places
    # A period that starts during the failure: the state in force at `since` counts.
    later = store.report(100_700, 101_000).endpoints[0]
    assert later.uptime is not None and abs(later.uptime - 1 / 3) < 1e-9


def test_report_period_excludes_what_began_after_it(store: Store) -> None:
    """A period query bounds ``first_ts <= until``: a place first seen, or an endpoint first
    checked, after the period is not in it, and a place's last sighting is clipped to it."""
    de = Host(API, (Addr("192.0.2.1"),), verdict=Verdict.PASS)
    us = Host(API, (Addr("192.0.2.9", country="US", region="us-east-1"),), verdict=Verdict.FAIL)
    later = Host("late.example.com", (Addr("192.0.2.7"),), verdict=Verdict.PASS)
    store.record(audit_result("r1", 100_000, [de], policy=True))
    store.record(audit_result("r2", 100_100, [de], policy=True))
    store.record(audit_result("r3", 200_000, [us, later], policy=True))
    report = store.report(99_000, 100_500)
    (entry,) = report.endpoints
    assert entry.endpoint == API and entry.checks == 2 and entry.uptime == 1.0
    assert [(loc.ip, loc.country) for loc in entry.locations] == [("192.0.2.1", "DE")]
    assert entry.locations[0].last_seen == "1970-01-02T03:48:20Z"  # 100_100, not later
    # A period covering only r3 sees only r3's places (the DE interval ended at r2).
    tail = store.report(150_000, 250_000)
    assert {e.endpoint for e in tail.endpoints} == {API, "late.example.com"}
    api = next(e for e in tail.endpoints if e.endpoint == API)
    assert [loc.country for loc in api.locations] == ["US"]
    # Nothing began before this period ended: no endpoint at all.
    assert store.report(10_000, 20_000).endpoints == ()


def test_report_rejudges_recorded_facts_with_another_policy(store: Store) -> None:
    from residency.policy import judge_recorded, parse_policy

    good = Host(API, (Addr("192.0.2.1"),), verdict=Verdict.PASS)  # recorded under eu-only 1
    moved = Host(API, (Addr("192.0.2.9", country="US", region="us-east-1"),), verdict=Verdict.FAIL)
    plain = Host("cdn.example.com", (Addr("198.51.100.4", country="IN"),))  # under no policy
    store.record(audit_result("r1", 100_000, [good, plain], policy=True))
    store.record(audit_result("r2", 100_500, [moved], policy=True))
    store.record(audit_result("r3", 100_000, [plain]))
    us_only = parse_policy('name = "us-only"\nversion = "3"\n[countries]\nallow = ["US"]\n')
    report = store.report(99_000, 101_000, judge=judge_recorded(us_only), judged_by="us-only 3")
    assert report.rejudged_with == "us-only 3"
    api, cdn = report.endpoints
    # DE then US: under us-only, FAIL then PASS (recorded: PASS then FAIL).
    assert [j.verdict for j in api.judgements] == [int(Verdict.FAIL), int(Verdict.PASS)]
    assert api.judgements[1].address_verdicts == (("192.0.2.9", int(Verdict.PASS)),)
    assert api.compliant_checks == 1 and api.judged_checks == 2
    assert api.current_verdict == int(Verdict.PASS)
    assert api.uptime is not None and abs(api.uptime - 0.5) < 1e-9  # 500 s of 1000 s
    # Never judged when recorded; judged now from its recorded facts (India: not allowed).
    assert cdn.judged_checks == cdn.checks == 2 and cdn.current_verdict == int(Verdict.FAIL)
    # Without a judge the recorded verdicts stand.
    plain_report = store.report(99_000, 101_000)
    assert plain_report.rejudged_with is None
    assert plain_report.endpoints[0].current_verdict == int(Verdict.FAIL)
    assert plain_report.endpoints[1].judged_checks == 0


def test_report_without_policy_has_no_uptime(store: Store) -> None:
    store.record(audit_result("r1", 1000, [Host(API, (Addr("192.0.2.1"),))]))
    (entry,) = store.report(0, 2000).endpoints
    assert entry.uptime is None and entry.judged_checks == 0


def test_kv_cache(store: Store) -> None:
    assert store.cache_get("rdap", "192.0.2.0/24", now=0) is None
    store.cache_put("rdap", "192.0.2.0/24", '{"org": "x"}', expires=100.0)
    assert store.cache_get("rdap", "192.0.2.0/24", now=50) == ('{"org": "x"}', 100.0)
    assert store.cache_get("rdap", "192.0.2.0/24", now=100) is None
    store.cache_put("rdap", "192.0.2.0/24", '{"org": "y"}', expires=None)
    assert store.cache_get("rdap", "192.0.2.0/24", now=10**9) == ('{"org": "y"}', None)
    store.cache_put("other", "k", "1", expires=5.0)
    assert store.cache_purge(now=10) == 1


def test_kv_cache_items_lists_one_namespace_fresh_soonest_first(store: Store) -> None:
    store.cache_put("rdap", "b", '"late"', expires=300.0)
    store.cache_put("rdap", "a", '"soon"', expires=200.0)
    store.cache_put("rdap", "gone", '"old"', expires=100.0)
    store.cache_put("rdap", "kept", '"forever"', expires=None)
    store.cache_put("other", "x", '"elsewhere"', expires=500.0)
    assert store.cache_items("rdap", now=100.0) == [
        ("a", '"soon"', 200.0),
        ("b", '"late"', 300.0),
        ("kept", '"forever"', None),
    ]
    assert store.cache_items("missing", now=0.0) == []


def test_targets_add_list_remove_sync(store: Store) -> None:
    added = store.add_targets(
        [TargetSpec("a.example"), TargetSpec("b.example", vantage="DE", cadence=3600)], now=100
    )
    assert added == 2
    listed = store.list_targets()
    assert [(t.host, t.vantage, t.cadence, t.next_due) for t in listed] == [
        ("a.example", None, None, 100.0),
        ("b.example", "DE", 3600.0, 100.0),
    ]
    store.add_targets([TargetSpec("a.example", min_interval=60)], now=500)
    assert store.target_count() == 2
    assert store.list_targets()[0].min_interval == 60 and store.list_targets()[0].next_due == 100
    assert store.remove_targets(["b.example"]) == 1
    kept, removed = store.sync_targets(
        "targets.txt", [TargetSpec("c.example"), TargetSpec("d.example")], now=0
    )
    assert (kept, removed) == (2, 0)
    kept, removed = store.sync_targets("targets.txt", [TargetSpec("d.example")], now=0)
    assert (kept, removed) == (1, 1)
    assert sorted(t.host for t in store.list_targets()) == ["a.example", "d.example"]


def test_claims_are_leases(store: Store) -> None:
    store.add_targets([TargetSpec(f"h{i}.example") for i in range(5)], now=0)
    first = store.claim_due("w1/a", now=10, limit=3, lease_seconds=60)
    second = store.claim_due("w2/b", now=10, limit=10, lease_seconds=60)
    assert len(first) == 3 and len(second) == 2
    assert not {t.id for t in first} & {t.id for t in second}
    assert store.claim_due("w3/c", now=69, limit=10, lease_seconds=60) == []
    # w1 died: at the end of its lease its targets are due again
    back = store.claim_due("w3/c", now=70, limit=10, lease_seconds=60)
    assert sorted(t.id for t in back) == sorted(t.id for t in first + second)


def test_complete_batch_moves_schedule_and_records(store: Store) -> None:
    from residency.store import Completion

    store.add_targets([TargetSpec(API)], now=0)
    (target,) = store.claim_due("w1/x", now=0, limit=10, lease_seconds=60)
    result = audit_result("m1", 5, [Host(API, (Addr("192.0.2.1"),))])
    outcome = store.complete_batch("w1/x", [Completion(target.id, 300.0, 5.0, "m1")], [result])
    assert outcome.completed == 1 and outcome.lost_leases == ()
    (after,) = store.list_targets()
    assert (after.next_due, after.last_checked, after.checks) == (300.0, 5.0, 1)
    # Replaying the same commit (the reply was lost) changes nothing.
    again = store.complete_batch("w1/x", [Completion(target.id, 300.0, 5.0, "m1")], [result])
    assert again.lost_leases == (target.id,) and not again.recorded[0].inserted
    assert store.list_targets()[0].checks == 1 and count(store, "run") == 1


def make_events(store: Store, count: int) -> None:
    for i in range(count + 1):
        store.record(audit_result(f"e{i}", 1000 + i, [Host(API, (Addr(f"192.0.2.{i + 1}"),))]))


def test_alert_claims_are_exclusive_and_given_back(store: Store) -> None:
    make_events(store, 3)  # each change: one address appears, one disappears
    assert len(store.pending_alerts("hook")) == 6
    first = store.claim_alerts("hook", now=10, limit=4)
    second = store.claim_alerts("hook", now=10, limit=4)
    assert len(first) == 4 and len(second) == 2
    assert not {e.id for e in first} & {e.id for e in second}
    assert store.claim_alerts("hook", now=10) == []
    store.finish_alerts("hook", [e.id for e in first], now=11, delivered=True)
    store.finish_alerts("hook", [e.id for e in second], now=11, delivered=False)
    again = store.claim_alerts("hook", now=12)
    assert [e.id for e in again] == [e.id for e in second]
    # Another channel has its own bookkeeping.
    assert len(store.claim_alerts("log", now=12, limit=100)) == 6


def test_alerts_left_sending_by_a_dead_worker_come_back_once(store: Store) -> None:
    make_events(store, 1)
    taken = store.claim_alerts("hook", now=100, lease=30, owner="dead")
    assert len(taken) == 2 and store.claim_alerts("hook", now=129, owner="b") == []
    # The lease ran out: the next claim takes them again, and only that one.
    back = store.claim_alerts("hook", now=130, owner="b")
    assert [e.id for e in back] == [e.id for e in taken]
    assert store.claim_alerts("hook", now=131, owner="c") == []
    # The dead worker's late "failed" does not give back what "b" now holds.
    store.finish_alerts("hook", [e.id for e in taken], now=132, delivered=False, owner="dead")
    assert store.claim_alerts("hook", now=133, owner="c") == []
    store.finish_alerts("hook", [e.id for e in back], now=134, delivered=True, owner="b")
    assert store.claim_alerts("hook", now=10_000, owner="c") == []
    assert store.outbox_size() == 0


def test_a_failed_send_is_due_again_at_its_retry_time(store: Store) -> None:
    make_events(store, 1)
    taken = store.claim_alerts("hook", now=100, owner="a")
    store.finish_alerts(
        "hook", [e.id for e in taken], now=101, delivered=False, owner="a", retry_at=160
    )
    assert store.claim_alerts("hook", now=159, owner="a") == []
    assert len(store.claim_alerts("hook", now=160, owner="a")) == 2


def test_new_channel_can_skip_the_backlog(store: Store) -> None:
    make_events(store, 2)
    store.skip_alerts_before("new")
    assert store.claim_alerts("new", now=1) == []
    store.record(audit_result("later", 99_999, [Host(API, (Addr("198.51.100.1"),))]))
    assert len(store.claim_alerts("new", now=2)) == 2


def observation_rows(store: Store, ip: str) -> list[tuple[float, float, int]]:
    with store.backend.transaction(write=False) as tx:
        return [
            (float(r[0]), float(r[1]), int(r[2]))
            for r in tx.query(
                "SELECT first_ts, last_ts, current FROM observation WHERE ip = ? ORDER BY id",
                (ip,),
            )
        ]


def test_address_whose_place_did_not_change_keeps_one_observation(store: Store) -> None:
    # The endpoint's state changes around 192.0.2.1 (a second address, a new CNAME, a
    # new verdict), but 192.0.2.1 stays in the same place: its history must stay one
    # continuous interval, not be split into a new row at each state change.
    steady = Addr("192.0.2.1")
    states = [
        Host(API, (steady,), cname=("a.cdn.test",), verdict=Verdict.PASS),
        Host(API, (steady, Addr("192.0.2.2")), cname=("a.cdn.test",), verdict=Verdict.PASS),
        Host(API, (steady, Addr("192.0.2.2")), cname=("b.cdn.test",), verdict=Verdict.FAIL),
    ]
    for i, host in enumerate(states, start=1):
        out = store.record(audit_result(f"r{i}", 1000 * i, [host], policy=True))
        assert out.changed == 1  # each is a new state of the endpoint
    assert observation_rows(store, "192.0.2.1") == [(1000.0, 3000.0, 1)]
    assert observation_rows(store, "192.0.2.2") == [(2000.0, 3000.0, 1)]
    steady_seen = [loc for loc in store.history(API).locations if loc.ip == "192.0.2.1"]
    assert len(steady_seen) == 1 and steady_seen[0].current
    assert steady_seen[0].first_seen.startswith("1970-01-01T00:16:40")
    assert steady_seen[0].last_seen.startswith("1970-01-01T00:50:00")


def test_v3_database_upgrades_to_the_alert_outbox(db_url: str) -> None:
    from residency.store import BACKENDS, resolve_location

    scheme, target = resolve_location(db_url)
    backend = BACKENDS[scheme](target, 10.0, True)
    migrate(backend, MIGRATIONS[:3])
    with backend.transaction() as tx:
        tx.execute(
            "INSERT INTO run (id, kind, started, finished, started_ts, recorded_ts,"
            " tool_version, inputs, resolvers, vantages, data_versions, data_fp, problems,"
            " notes, endpoint_count) VALUES ('r', 'monitor', '', '', 0, 0, 't', '{}', '[]',"
            " '[]', '[]', 'fp', '[]', '[]', 1)"
        )
        seq = tx.execute("SELECT seq FROM run").scalar()
        tx.execute("INSERT INTO endpoint (key, host, display) VALUES ('a', 'a', 'a')")
        endpoint = tx.execute("SELECT id FROM endpoint").scalar()
        for _ in range(5):
            tx.execute(
                "INSERT INTO drift_event (endpoint_id, run_seq, at_ts, kind, detail)"
                " VALUES (?, ?, 0, 'country-changed', 'x')",
                (endpoint, seq),
            )
        ids = [int(r[0]) for r in tx.query("SELECT id FROM drift_event ORDER BY id")]
        # "hook" was sent the first two, is sending the third, has its mark at the third.
        tx.execute("INSERT INTO alert_channel (channel, upto) VALUES ('hook', ?)", (ids[2],))
        tx.executemany(
            "INSERT INTO alert_sent (event_id, channel, sent_ts, state) VALUES (?, 'hook', 0, ?)",
            [(ids[0], "sent"), (ids[1], "sent"), (ids[2], "sending")],
        )
    store = Store(backend)
    try:
        assert schema_version(backend) == max(m.version for m in MIGRATIONS)
        owed = store.claim_alerts("hook", now=1, limit=10, owner="new")
        assert [e.id for e in owed] == ids[2:]  # the one left sending, and the two after
    finally:
        store.close()
