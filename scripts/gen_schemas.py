"""Write schemas/pipeline.schema.json from the step kinds' declarations (convcli.steps.schema).

Run after changing a step kind: ``python scripts/gen_schemas.py``. tests/test_schemas.py fails when
the file and the declarations differ.
"""

from pathlib import Path

from convcli.steps.schema import PIPELINE_SCHEMA, render_pipeline_schema

if __name__ == "__main__":
    target = Path(__file__).resolve().parents[1] / PIPELINE_SCHEMA
    target.write_text(render_pipeline_schema(), encoding="utf-8")
    print(f"wrote {target}")
