"""The batch job's YAML configuration: safe loading, strict keys, clear errors (no cluster)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pytest
import yaml

from dreg.job.config import Config, Filter, load_config, parse_config
from dreg.job.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "dreg" / "job" / "configs" / "demo.yaml"  # shipped in the package: `dreg demo` reads it
CONFIGS = sorted([*(REPO / "configs").glob("*.yaml"), DEMO])


def minimal() -> dict:
    return {
        "data": {"path": "/lake", "target": "y"},
        "output": {"registry": "/models", "name": "m"},
    }


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "cfg.yaml"
    p.write_text(text, encoding="utf-8")
    return p


def error_of(data: dict) -> str:
    with pytest.raises(ConfigError) as info:
        parse_config(data, "(test)")
    return str(info.value)


# --------------------------------------------------------------------------- loading
def test_minimal_config_gets_documented_defaults(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, yaml.safe_dump(minimal())))
    assert isinstance(cfg, Config)
    assert (
        cfg.data.features is None and cfg.data.filters == [] and cfg.data.on_invalid_rows == "error"
    )
    assert (cfg.model.penalty, cfg.model.cv, cfg.model.alphas, cfg.model.selection) == (
        "ridge",
        5,
        100,
        "min",
    )
    assert cfg.cluster.address is None and cfg.cluster.n_workers == 2
    assert cfg.output.storage_options == {}


def test_yaml_is_loaded_with_safe_load(tmp_path: Path) -> None:
    # a python-object tag would run code under yaml.load / unsafe_load
    text = "data: !!python/object/apply:os.system ['echo pwned']\noutput: {registry: /m, name: m}\n"
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(write(tmp_path, text))


def test_config_is_frozen(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, yaml.safe_dump(minimal())))
    with pytest.raises(Exception, match="frozen"):
        cfg.model.cv = 3  # type: ignore[misc]


@pytest.mark.parametrize(
    "text, match",
    [
        ("", "must be a mapping"),
        ("- a\n- b\n", "must be a mapping"),
        ("data: [unclosed\n", "not valid YAML"),
    ],
)
def test_not_a_mapping_or_not_yaml(tmp_path: Path, text: str, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        load_config(write(tmp_path, text))


def test_missing_file_names_the_path(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    with pytest.raises(ConfigError, match="nope.yaml"):
        load_config(missing)


# --------------------------------------------------------------------------- strict keys
@pytest.mark.parametrize(
    "section, key",
    [("model", "alpah"), ("data", "taget"), ("cluster", "n_worker"), ("output", "registy")],
)
def test_unknown_key_is_rejected_with_its_dotted_name(section: str, key: str) -> None:
    d = minimal()
    d.setdefault(section, {})[key] = 1
    msg = error_of(d)
    assert f"{section}.{key}" in msg
    assert "unknown key" in msg


def test_unknown_top_level_section() -> None:
    d = minimal()
    d["modle"] = {"penalty": "lasso"}
    assert "unknown key 'modle'" in error_of(d)


def test_unknown_key_in_a_filter_mapping() -> None:
    d = minimal()
    d["data"]["filters"] = [{"column": "day", "op": ">=", "value": "2026-10-01", "colour": "red"}]
    assert "colour" in error_of(d)


def test_unknown_key_from_a_file_names_file_and_key(tmp_path: Path) -> None:
    d = minimal()
    d["model"] = {"penalty": "lasso", "alpah": 0.1}
    p = write(tmp_path, yaml.safe_dump(d))
    with pytest.raises(ConfigError) as info:
        load_config(p)
    assert "model.alpah" in str(info.value) and str(p) in str(info.value)


@pytest.mark.parametrize(
    "drop, dotted",
    [
        (("data",), "data"),
        (("output",), "output"),
        (("data", "path"), "data.path"),
        (("data", "target"), "data.target"),
        (("output", "registry"), "output.registry"),
        (("output", "name"), "output.name"),
    ],
)
def test_missing_required_key(drop: tuple[str, ...], dotted: str) -> None:
    d = minimal()
    if len(drop) == 1:
        del d[drop[0]]
    else:
        del d[drop[0]][drop[1]]
    msg = error_of(d)
    assert f"missing required key '{dotted}'" in msg


def test_every_error_is_reported_at_once() -> None:
    d = minimal()
    d["model"] = {"penalty": "foo", "cv": 1}
    del d["output"]["name"]
    msg = error_of(d)
    assert "model.penalty" in msg and "model.cv" in msg and "output.name" in msg


# --------------------------------------------------------------------------- invalid values
@pytest.mark.parametrize(
    "section, values, where",
    [
        ("model", {"penalty": "foo"}, "model.penalty"),
        ("model", {"cv": 1}, "model.cv"),
        ("model", {"cv": "five"}, "model.cv"),
        ("model", {"alphas": 0}, "model.alphas"),
        ("model", {"alphas": [0.1, -1.0]}, "model.alphas"),
        ("model", {"eps": 1.5}, "model.eps"),
        ("model", {"selection": "best"}, "model.selection"),
        ("model", {"solver": "lbfgs"}, "model.solver"),
        ("model", {"tol": 0}, "model.tol"),
        ("model", {"random_state": -1}, "model.random_state"),
        ("model", {"penalty_factor": {"a": -1}}, "model.penalty_factor"),
        ("data", {"on_invalid_rows": "ignore"}, "data.on_invalid_rows"),
        ("cluster", {"n_workers": 0}, "cluster.n_workers"),
        ("cluster", {"connect_timeout": 0}, "cluster.connect_timeout"),
        ("output", {"name": "../escape"}, "output.name"),
        ("output", {"name": "a/b"}, "output.name"),
    ],
)
def test_invalid_value_names_the_key(section: str, values: dict, where: str) -> None:
    d = minimal()
    d.setdefault(section, {}).update(values)
    assert where in error_of(d)


@pytest.mark.parametrize("penalty", ["lasso", "ridge"])
def test_l1_ratio_only_with_elasticnet(penalty: str) -> None:
    d = minimal()
    d["model"] = {"penalty": penalty, "l1_ratio": 0.5}
    msg = error_of(d)
    assert "l1_ratio" in msg and "elasticnet" in msg and penalty in msg


@pytest.mark.parametrize("l1_ratio", [1.5, -0.1, [0.5, 2.0], []])
def test_l1_ratio_values(l1_ratio) -> None:
    d = minimal()
    d["model"] = {"penalty": "elasticnet", "l1_ratio": l1_ratio}
    assert "l1_ratio" in error_of(d)


def test_elasticnet_with_l1_ratio_list_is_valid() -> None:
    d = minimal()
    d["model"] = {"penalty": "elasticnet", "l1_ratio": [0.2, 0.5, 1.0]}
    assert parse_config(d).model.l1_ratio == [0.2, 0.5, 1.0]


@pytest.mark.parametrize(
    "data, match",
    [
        ({"weight": "y"}, "different columns"),
        ({"weight": "w", "fold_column": "w"}, "different columns"),
        ({"features": []}, "must not be empty"),
        ({"features": ["a", "b", "a"]}, "more than once"),
        ({"features": ["a", "y"]}, "must not include"),
    ],
)
def test_data_columns_are_consistent(data: dict, match: str) -> None:
    d = minimal()
    d["data"].update(data)
    assert match in error_of(d)


def test_address_and_scheduler_file_are_exclusive() -> None:
    d = minimal()
    d["cluster"] = {"address": "tcp://127.0.0.1:8786", "scheduler_file": "/s.json"}
    assert "not both" in error_of(d)


# --------------------------------------------------------------------------- filters
@pytest.mark.parametrize(
    "text, column, op, value",
    [
        ("day >= 2026-10-01", "day", ">=", "2026-10-01"),
        ("day>=2026-10-01", "day", ">=", "2026-10-01"),
        ("  day  <  '2026-11-01' ", "day", "<", "2026-11-01"),
        ("region = eu", "region", "==", "eu"),
        ('region == "eu"', "region", "==", "eu"),
        ("region != us", "region", "!=", "us"),
        ("hour > 3", "hour", ">", "3"),
        ("hour <= 3", "hour", "<=", "3"),
        ("region in [eu, 'us']", "region", "in", ["eu", "us"]),
        ("region not in (eu, us)", "region", "not in", ["eu", "us"]),
    ],
)
def test_filter_strings(text: str, column: str, op: str, value) -> None:
    d = minimal()
    d["data"]["filters"] = [text]
    (flt,) = parse_config(d).data.filters
    assert (flt.column, flt.op, flt.value) == (column, op, value)


@pytest.mark.parametrize(
    "item, expected",
    [
        (["day", ">=", "2026-10-01"], ("day", ">=", "2026-10-01")),
        (["day", "=", "2026-10-01"], ("day", "==", "2026-10-01")),
        (["region", "in", ["eu", "us"]], ("region", "in", ["eu", "us"])),
        ({"column": "hour", "op": "<", "value": 7}, ("hour", "<", 7)),
    ],
)
def test_filter_lists_and_mappings(item, expected) -> None:
    d = minimal()
    d["data"]["filters"] = [item]
    (flt,) = parse_config(d).data.filters
    assert (flt.column, flt.op, flt.value) == expected


def test_single_filter_string_and_null_filters() -> None:
    d = minimal()
    d["data"]["filters"] = "day >= 2026-10-01"
    assert parse_config(d).data.filters == [Filter(column="day", op=">=", value="2026-10-01")]
    d["data"]["filters"] = None
    assert parse_config(d).data.filters == []


def test_filters_from_yaml(tmp_path: Path) -> None:
    text = """
data:
  path: /lake
  target: y
  filters:
    - "day >= 2026-10-01"
    - [region, in, [eu, us]]
output: {registry: /m, name: m}
"""
    cfg = load_config(write(tmp_path, text))
    assert [(f.column, f.op, f.value) for f in cfg.data.filters] == [
        ("day", ">=", "2026-10-01"),
        ("region", "in", ["eu", "us"]),
    ]


@pytest.mark.parametrize("bad", ["day", "day ~ 3", ">= 3", ["day", ">="], ["day", "like", "x"], 42])
def test_bad_filters(bad) -> None:
    d = minimal()
    d["data"]["filters"] = [bad]
    assert "data.filters" in error_of(d)


# --------------------------------------------------------------------------- shipped configs
def test_the_demo_config_is_the_packaged_one() -> None:
    """One copy: the installed package's demo.yaml is the repository's file."""
    packaged = resources.files("dreg.job").joinpath("configs/demo.yaml").read_bytes()
    assert packaged == DEMO.read_bytes()
    assert not (REPO / "configs" / "demo.yaml").exists()


def test_configs_folder_has_the_documented_examples() -> None:
    assert {p.name for p in CONFIGS} >= {"demo.yaml", "lasso.yaml", "ridge.yaml", "elasticnet.yaml"}


@pytest.mark.parametrize("path", CONFIGS, ids=[p.name for p in CONFIGS])
def test_every_shipped_config_validates(path: Path) -> None:
    cfg = load_config(path)
    assert cfg.output.name and cfg.data.target


def test_lasso_example_parses_its_filter() -> None:
    cfg = load_config(REPO / "configs" / "lasso.yaml")
    assert cfg.model.penalty == "lasso"
    assert [(f.column, f.op, f.value) for f in cfg.data.filters] == [("day", ">=", "2026-10-01")]


def test_demo_config_with_workdir(tmp_path: Path) -> None:
    from dreg.job.demo import demo_config

    cfg = demo_config(tmp_path, n_workers=3)
    assert cfg.data.path == str(tmp_path / "lake")
    assert cfg.output.registry == str(tmp_path / "registry")
    assert cfg.cluster.n_workers == 3 and cfg.model.penalty == "lasso"


def test_model_n_jobs_reaches_the_estimator_and_zero_is_rejected() -> None:
    from dreg.job.pipeline import build_estimator

    data = minimal()
    data["model"] = {"penalty": "lasso", "n_jobs": 2}
    assert build_estimator(parse_config(data, "(test)").model).n_jobs == 2
    data["model"]["n_jobs"] = -1
    assert build_estimator(parse_config(data, "(test)").model).n_jobs == -1
    del data["model"]["n_jobs"]
    assert build_estimator(parse_config(data, "(test)").model).n_jobs is None
    data["model"]["n_jobs"] = 0
    assert "n_jobs" in error_of(data)
    data["model"]["n_jobs"] = -3
    assert "n_jobs" in error_of(data)


# --------------------------------------------------------------------------- paths
def test_relative_paths_resolve_against_the_config_folder(tmp_path: Path, monkeypatch) -> None:
    folder = tmp_path / "jobs"
    folder.mkdir()
    data = {
        "data": {"path": "lake", "target": "y"},
        "output": {"registry": "../models", "name": "m"},
        "cache": {"path": "cache/stats"},
        "cluster": {
            "address": "tls://10.0.0.1:8786",
            "tls": {"ca_file": "certs/ca.pem", "cert": "/etc/dreg/cert.pem", "key": "~/key.pem"},
        },
    }
    cfg_file = folder / "job.yaml"
    cfg_file.write_text(yaml.safe_dump(data), encoding="utf-8")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    cfg = load_config(cfg_file)
    assert cfg.data.path == str(folder / "lake")
    assert cfg.output.registry == str(tmp_path / "models")  # normalized, no '..'
    assert cfg.cache.path == str(folder / "cache" / "stats")
    assert cfg.cluster.tls.ca_file == str(folder / "certs" / "ca.pem")
    assert cfg.cluster.tls.cert == "/etc/dreg/cert.pem"  # absolute: unchanged
    assert cfg.cluster.tls.key == str(Path("~/key.pem").expanduser())
    assert cfg.cluster.address == "tls://10.0.0.1:8786"  # an address, not a path
    # a relative config path given from another folder resolves the same way
    monkeypatch.chdir(tmp_path)
    assert load_config(Path("jobs") / "job.yaml").data.path == str(folder / "lake")


def test_scheduler_file_resolves_against_the_config_folder(tmp_path: Path) -> None:
    data = {**minimal(), "cluster": {"scheduler_file": "sched.json"}}
    cfg = load_config(write(tmp_path, yaml.safe_dump(data)))
    assert cfg.cluster.scheduler_file == str(tmp_path / "sched.json")


@pytest.mark.parametrize(
    "url", ["s3://bucket/lake", "file:///data/lake", "memory://lake", "gcs://b/p", "abfs://c@a/p"]
)
def test_urls_are_kept_as_written(tmp_path: Path, url: str) -> None:
    data = {
        "data": {"path": url, "target": "y"},
        "output": {"registry": url + "-models", "name": "m"},
        "cache": {"path": url + "-cache"},
    }
    cfg = load_config(write(tmp_path, yaml.safe_dump(data)))
    assert (cfg.data.path, cfg.output.registry, cfg.cache.path) == (url, url + "-models", url + "-cache")


def test_a_mapping_without_a_file_keeps_paths_as_written() -> None:
    data = {"data": {"path": "lake", "target": "y"}, "output": {"registry": "models", "name": "m"}}
    cfg = parse_config(data, "(test)")
    assert (cfg.data.path, cfg.output.registry, cfg.cache.path) == ("lake", "models", None)


def test_exclude_is_a_list_without_repeats_and_not_with_features() -> None:
    data = minimal()
    data["data"]["exclude"] = ["id", "ts"]
    assert parse_config(data, "(test)").data.exclude == ["id", "ts"]
    data["data"]["exclude"] = ["id", "id"]
    assert "exclude lists ['id'] more than once" in error_of(data)
    data["data"].update(exclude=["id"], features=["a"])
    assert "give features or exclude, not both" in error_of(data)
    assert parse_config(minimal(), "(test)").data.exclude == []
