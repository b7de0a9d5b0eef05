"""A run directory prepared from the embedded dataset stays valid in another environment
(the wheel's path differs between virtual environments; the data does not)."""
import json

from recalign.atomic_io import write_json
from recalign.data.readers import dataset_identity
from recalign.pipeline import DataConfig, prepare_inputs, recorded_source
from recalign.run_dir import RunDir


def test_embedded_dataset_recorded_in_another_venv_is_the_same_input(tmp_path):
    other = "/elsewhere/.venv/lib/python3.11/site-packages/recbole/dataset_example/ml-100k"
    run = RunDir(tmp_path / "run")
    run.split_meta.parent.mkdir(parents=True)
    write_json(run.split_meta, {"name": "ml-100k", "source": {"dataset": "ml-100k", "path": other, "user_k": 0,
                                                               "item_k": 0, "min_interactions": 3}})
    assert recorded_source(run) == prepare_inputs(DataConfig())
    assert prepare_inputs(DataConfig())["path"] == "embedded:ml-100k"


def test_other_directories_keep_their_path(tmp_path):
    d = tmp_path / "toys"
    d.mkdir()
    assert dataset_identity(d) == str(d.resolve())
    # a directory merely named like the embedded dataset is not the embedded dataset
    fake = tmp_path / "ml-100k"
    fake.mkdir()
    assert dataset_identity(fake) == str(fake.resolve())
    assert json.loads(json.dumps(dataset_identity(fake))) != "embedded:ml-100k"
