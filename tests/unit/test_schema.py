import json
from pathlib import Path

from stix.schema import task_schema, task_schema_json

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_committed_schema_is_current():
    committed = (EXAMPLES / "stix-task.schema.json").read_text()
    assert committed == task_schema_json(), "run: stix schema -o examples/stix-task.schema.json"


def test_every_field_has_a_description():
    schema = task_schema()
    models = [schema, *schema["$defs"].values()]
    for model in models:
        for name, prop in model.get("properties", {}).items():
            assert prop.get("description"), f"{model.get('title')}.{name} has no description"
    assert schema["additionalProperties"] is False


def test_examples_point_editors_at_the_schema():
    for path in EXAMPLES.glob("*.yaml"):
        assert path.read_text().startswith("# yaml-language-server: $schema=./stix-task.schema.json"), path


def test_schema_command_writes_json(stix, tmp_path):
    out = tmp_path / "s.json"
    assert stix("schema", "-o", str(out)).returncode == 0
    assert json.loads(out.read_text())["title"] == "stix task"
