"""sim.api: the notebook API uses the commands' objects and writes what they write."""

from __future__ import annotations

import json

import numpy as np
import pytest
import yaml

from sim import __version__, api
from sim.cli import main
from sim.errors import ScenarioError, UserError
from sim.io import RunData, load_checkpoint
from sim.scenario import parse_scenario
from tests.scenario_factory import tree
from tests.run_files import h5_contents


@pytest.fixture(scope="module")
def potassium():
    return api.load("potassium")


# --- with_values ---------------------------------------------------------------------------

def test_with_values_changes_values_by_key_path(potassium):
    sc = api.with_values(potassium, {
        "compartments[1].concentrations.K+": "15 mM",
        "compartments[1].concentrations.A-": "15 mM",
        "membranes[0].channels[0].radius": "0.9 nm",
        "run.seed": 7,
        "electrostatics": "off",
    })
    outside = dict(sc.compartments[1].concentrations)
    assert outside["K+"] == pytest.approx(3 * dict(potassium.compartments[1].concentrations)["K+"])
    assert sc.membranes[0].channels[0].radius == 0.9       # the first pore only
    assert sc.membranes[0].channels[1].radius == potassium.membranes[0].channels[1].radius
    assert sc.membranes[1] == potassium.membranes[1]
    assert sc.run.seed == 7 and sc.electrostatics.method == "off"
    assert sc.source == potassium.source and sc.name == potassium.name
    assert api.with_values(potassium, {}) == potassium
    assert potassium.run.seed == 1  # the original is unchanged


def test_a_new_key_in_a_mapping_and_duration_for_steps(potassium):
    sc = api.with_values(potassium, {"run.duration": "1 ns",
                                     "compartments[0].concentrations.Na+": "10 mM",
                                     "compartments[0].concentrations.A-": "160 mM"})
    assert sc.run.steps == potassium.steps_for(1000.0) == 20_000
    assert dict(sc.compartments[0].concentrations)["Na+"] > 0


def test_a_new_temperature_derives_its_defaults_again(potassium):
    sc = api.with_values(potassium, {"temperature": "298.15 K"})
    file = tree(temperature="298.15 K")  # the same change made in a scenario file
    assert sc.temperature == 298.15
    assert sc.solvent_permittivity == pytest.approx(78.303, abs=1e-3)
    assert sc.wca_epsilon == pytest.approx(sc.kT)
    assert dict((s.name, s.diffusion) for s in sc.species)["K+"] == \
        parse_scenario(file, "t.yaml").species[0].diffusion
    kept = api.with_values(potassium, {"temperature": "298.15 K", "solvent.permittivity": 74.0})
    assert kept.solvent_permittivity == 74.0


@pytest.mark.parametrize("path, says", [
    ("membranes[2].thickness", "no such entry: membranes has 2 entries (0..1)"),
    ("compartments[1].concentration.K+", "no such key: compartments[1].concentration"),
    ("temperature[0]", "no such entry: temperature is not a list"),
    ("membranes[0].channels[0].radius.x", "is not a mapping"),
    ("run..seed", "cannot read the key path"),
    ("run.sed", "unknown key"),  # a new last key: the scenario reader refuses it
])
def test_a_path_that_does_not_exist_is_a_scenario_error_naming_it(potassium, path, says):
    with pytest.raises(ScenarioError) as err:
        api.with_values(potassium, {path: 1})
    assert path in str(err.value) and says in str(err.value)


def test_a_bad_value_is_the_usual_scenario_error(potassium):
    with pytest.raises(ScenarioError, match=r"membranes\[0\]\.channels\[0\]\.radius: must be > 0"):
        api.with_values(potassium, {"membranes[0].channels[0].radius": "-1 nm"})
    with pytest.raises(ScenarioError, match="not electroneutral"):
        api.with_values(potassium, {"compartments[1].concentrations.K+": "15 mM"})


# --- run: the files of `ionsim run` ----------------------------------------------------------

def _body(path):
    """scenario.yaml without its header comments (the source and the run id)."""
    return [line for line in path.read_text().splitlines() if not line.startswith("#")]


TIMINGS = {"run_id", "wall_time_s", "setup_time_s", "particle_steps_per_second", "threads"}


def test_run_writes_what_ionsim_run_writes(tmp_path, potassium, capsys):
    sc = api.with_values(potassium, {"electrostatics": "off"})
    run = api.run(sc, tmp_path / "api", steps=300, seed=3, quiet=True)
    assert capsys.readouterr().out == ""
    assert isinstance(run, RunData) and run.scenario.run.steps == 300

    path = tmp_path / "k.yaml"
    path.write_text(yaml.safe_dump(sc.to_dict(), sort_keys=False))
    cli = tmp_path / "cli"
    assert main(["run", str(path), "--out", str(cli), "--steps", "300", "--seed", "3",
                 "--quiet"]) == 0

    a, b = tmp_path / "api", cli
    assert sorted(p.name for p in a.iterdir()) == sorted(p.name for p in b.iterdir())
    assert _body(a / "scenario.yaml") == _body(b / "scenario.yaml")
    assert (a / "topology.pdb").read_bytes() == (b / "topology.pdb").read_bytes()
    (got, got_attrs), (ref, ref_attrs) = h5_contents(a / "trajectory.h5"), \
        h5_contents(b / "trajectory.h5")
    assert sorted(got) == sorted(ref) and got_attrs == ref_attrs
    for name in ref:
        assert np.array_equal(got[name], ref[name], equal_nan=ref[name].dtype.kind == "f"), name
    ca, cb = load_checkpoint(a), load_checkpoint(b)
    assert sorted(ca) == sorted(cb)
    assert all(np.array_equal(ca[k], cb[k]) for k in cb if k != "run_id")
    sa, sb = (json.loads((d / "summary.json").read_text()) for d in (a, b))
    assert {k: v for k, v in sa.items() if k not in TIMINGS} == \
        {k: v for k, v in sb.items() if k not in TIMINGS}

    # budget: the text of `ionsim budget`, and the box budget behind it
    assert main(["budget", str(b)]) == 0
    printed = capsys.readouterr().out
    got_budget = api.budget(run)
    assert str(got_budget).replace(str(a), str(b)) + "\n" == printed
    assert [s.species for s in got_budget.result] == ["K+"]

    # a run there is replaced only with force=True, as with --force
    with pytest.raises(UserError, match="holds an earlier run"):
        api.run(sc, a, steps=10, quiet=True)
    assert api.run(sc, a, steps=10, force=True, quiet=True).scenario.run.steps == 10


def test_run_checks_duration_steps_and_seed_as_the_command_does(tmp_path, potassium):
    for kwargs, says in [({"duration": "2 parsecs"}, "duration:"),
                         ({"duration": "0.001 ps"}, "at least one time step"),
                         ({"steps": 0}, "steps: must be >= 1"),
                         ({"seed": -1}, r"seed: must be an integer in \[0, 2\^63\)"),
                         ({"steps": 5, "duration": "1 ps"}, "not both")]:
        with pytest.raises(UserError, match=says):
            api.run(potassium, tmp_path / "x", quiet=True, **kwargs)
    assert not (tmp_path / "x").exists()


def test_analyze_and_the_plot_of_a_run_with_a_membrane_potential(tmp_path, capsys):
    sc = parse_scenario(tree(electrostatics="ewald"), "small.yaml")
    run = api.run(sc, tmp_path / "small", steps=200)
    out = capsys.readouterr().out  # what `ionsim run` prints: its header, the closing table
    assert out.startswith(f"ionsim {__version__}: test -> {tmp_path / 'small'}\n")
    assert "crossings" in out
    result = api.analyze(run)
    assert main(["analyze", str(tmp_path / "small")]) == 0
    assert str(result) + "\n" == capsys.readouterr().out
    assert result.result.vm is not None and result.result.rows[0].species == "K+"
    assert str(api.analyze(tmp_path / "small")) == str(result)  # a directory works too

    fig = api.plot_lecture_curves(run)
    assert len(fig.axes) == 2 and fig.axes[1].get_ylabel() == "V_m (mV)"
    import matplotlib.pyplot as plt
    assert fig.number not in plt.get_fignums()  # a notebook shows it once
    fig.savefig(tmp_path / "curves.png")
    assert (tmp_path / "curves.png").stat().st_size > 10_000


def test_analyze_refuses_a_run_without_a_membrane_potential(tmp_path):
    run = api.run(parse_scenario(tree(), "off.yaml"), tmp_path / "off", steps=20, quiet=True)
    with pytest.raises(UserError, match="no membrane potential"):
        api.analyze(run)
    assert len(api.plot_lecture_curves(run).axes) == 1
