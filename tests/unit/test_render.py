"""Terminal rendering: names and messages from users and the engine are printed as text, never as rich markup."""

from rich.console import Console

from stix.catalog.offers import Candidate
from stix.engine.changes import ChangeSet, ResourceChange
from stix.events import Note, ResourceChanged, ResourceFailed
from stix.optimizer import Placement
from stix.render import candidates_table, console_events, gpus_table, preview_table, queue_table


def rendered(*renderables) -> str:
    console = Console(record=True, width=240, color_system=None)
    for item in renderables:
        console.print(item)
    return console.export_text()


def test_job_names_and_details_are_literal():
    row = {"id": 1, "name": "train [/x] [bold]big", "status": "FAILED", "num_nodes": 1, "cpus": 1.0, "gpus": 0.0,
           "submitted": 0.0, "started": None, "ended": None, "detail": "exit [red]3[/red]"}
    text = rendered(queue_table("c", [row]), gpus_table([("A100[/x]",) * 9], "A100[/x] offers"))
    assert "A100[/x] offers" in text
    assert "train [/x] [bold]big" in text
    assert "exit [red]3[/red]" in text


def test_spot_is_shown():
    spot = Candidate("aws", "us-east-1", "us-east-1a", "p4d.24xlarge", "A100", 8.0, 96.0, 1152.0, True, 12.5, 1)
    text = rendered(candidates_table(Placement(spot, [spot])))
    assert "p4d.24xlarge [spot]" in text


def test_engine_names_and_messages_are_literal():
    changes = ChangeSet([ResourceChange("create", "stix:x:[/Node]", "node-[1]", ("tags[/]",))])
    text = rendered(preview_table("c", changes))
    assert "stix:x:[/Node]" in text and "node-[1]" in text and "tags[/]" in text
    console = Console(record=True, width=240, color_system=None)
    render = console_events(console)
    for event in (Note("job [/x] done"), ResourceChanged("create", "n[/a]"), ResourceFailed("n[b]", "bad [/i] input")):
        render(event)
    out = console.export_text()
    assert "job [/x] done" in out and "create: n[/a]" in out and "n[b]: bad [/i] input" in out


def test_launched_reads_as_skypilot_writes_it():
    from stix.render import launched_ago

    assert [launched_ago(s) for s in (3, 45, 60, 150, 3600, 7300, 86400 * 3, 86400 * 8, 86400 * 65)] == [
        "a few secs ago", "45 secs ago", "1 min ago", "2 mins ago", "1 hr ago", "2 hrs ago", "3 days ago",
        "1 week ago", "2 months ago"]


def test_status_table_without_recorded_resources_falls_back():
    from stix.index import ClusterRecord
    from stix.render import status_table

    old = ClusterRecord("old", "local", 2, "UP", None, 0.0, 0.0)
    text = rendered(status_table([old], now=120.0))
    assert "2x local" in text and "2 mins ago" in text and " - " in text


def test_credentials_are_marked_only_when_asked():
    spot = Candidate("aws", "us-east-1", "us-east-1a", "p4d.24xlarge", "A100", 8.0, 96.0, 1152.0, False, 12.5, 1)
    assert "CREDENTIALS" not in rendered(candidates_table(Placement(spot, [spot])))
    marked = rendered(candidates_table(Placement(spot, [spot]), lacking={"aws"}))
    assert "CREDENTIALS" in marked and "│ no" in marked
    assert "CREDENTIALS" in rendered(gpus_table([("A100", "8", "aws") + ("x",) * 6], "t", set()))


def test_preview_lists_violations_after_the_changes_mandatory_in_red():
    from stix.policy.violations import Violation
    from stix.render import print_admin_changes, print_preview

    changes = ChangeSet([ResourceChange("create", "stix:local:Node", "vms-node-0")])
    changes.violations = [Violation("team", "tag [b]x[/b]", "advisory", "vms", "stix:local:VmGroup", "add [red]tags"),
                          Violation("stix-guardrails", "max-hourly-cost-per-cluster", "mandatory", "stix-c",
                                    "pulumi:pulumi:Stack", "cluster c costs $3.00/hr; the budget per cluster is $2.00/hr")]
    console = Console(record=True, width=240, color_system="standard")
    print_preview(console, "c", changes)
    print_admin_changes(console, ["resources.use_spot: False -> True"])
    text = console.export_text(clear=False)
    assert text.index("vms-node-0") < text.index("Policy violations") < text.index("Admin policy changed the request:")
    assert text.index("max-hourly-cost-per-cluster") < text.index("team/tag [b]x[/b]"), "mandatory first, literal text"
    assert "pulumi:pulumi:Stack stix-c" in text and "add [red]tags" in text
    assert "Policy: 1 mandatory, 1 advisory violation(s); `stix up` refuses this plan." in text
    assert "  resources.use_spot: False -> True" in text
    styled = console.export_text(styles=True)
    assert "\x1b[1;31mmandatory" in styled, "a mandatory violation is bold red"
    assert "\x1b[33madvisory" in styled
    quiet = Console(record=True, width=240, color_system=None)
    print_preview(quiet, "c", ChangeSet([ResourceChange("create", "stix:local:Node", "vms-node-0")]))
    assert "Polic" not in quiet.export_text(), "nothing when the packs were silent"


def _records(count: int, **changes):
    from stix.index import ClusterRecord

    return [ClusterRecord(**{"name": f"dev-{i}", "cloud": "local", "num_nodes": 2, "status": "UP", "task_path": None,
                             "created_at": 100.0 + i, "updated_at": 100.0, "autostop": "10m (down)" if i % 2 else None,
                             "resources_str": "2x local(-, cpus=4)", "hourly_cost": 0.5 * i, **changes})
            for i in range(count)]


def plain_print(renderable, width: int = 200, **options) -> str:
    import io

    out = io.StringIO()
    Console(file=out, width=width, color_system=None).print(renderable, **options)
    return out.getvalue()


def test_the_fast_status_table_draws_what_rich_draws():
    from stix.render import status_table, status_text

    for count in (1, 3, 120):
        records = _records(count, name="über-ß") if count == 1 else _records(count)
        fast = status_text(records, 200, now=4000.0)
        assert fast is not None
        assert plain_print(fast, no_wrap=True, overflow="ignore", crop=False) == \
            plain_print(status_table(records, now=4000.0))


def test_rich_lays_out_a_status_table_too_wide_or_with_control_characters():
    from stix.render import status_text

    assert status_text(_records(2), 40) is None, "narrower than the table: rich wraps the cells"
    assert status_text(_records(1, resources_str="2x aws(\x1b[31m)"), 200) is None
