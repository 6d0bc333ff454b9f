"""Bad scenarios are refused before any work: exit code 2, one line that names the file,
the key path and what is accepted, and no traceback."""

import subprocess
import sys

import pytest
import yaml

from sim.cli import main
from tests.scenario_factory import tree


def _membranes(**channel):
    ch = {"count": 4, "radius": "0.8 nm", "permeant": ["K+"], **channel}
    return [{"thickness": "3 nm", "channels": [ch]}] * 2


def _with(path, value):
    """BASE tree with the value at a dotted/indexed key path replaced."""
    t = tree()
    node = t
    keys = path.split(".")
    for k in keys[:-1]:
        node = node[int(k)] if k.isdigit() else node[k]
    last = keys[-1]
    node[int(last) if last.isdigit() else last] = value
    return t


def _pumped(**pump):
    """The base tree with K+ and A- only, and a pump on membrane 0 (keys changed; None
    deletes one)."""
    t = tree()
    entry = {"count": 4, "carries_out": {"K+": 1}, "carries_in": {"K+": 1},
             "half_saturation": {"K+": "10 mM"}, "acceleration": 1e6}
    entry.update(pump)
    entry = {k: v for k, v in entry.items() if v is not None}
    t["membranes"] = _membranes()
    t["membranes"][0] = dict(t["membranes"][0], pumps=[entry])
    return t


def _gated(**gating):
    entry = {"states": ["closed", "open"],
             "rates": {"closed->open": "1 /ns", "open->closed": "1 /ns"}}
    entry.update(gating)
    return _with("membranes", _membranes(gating={k: v for k, v in entry.items()
                                                 if v is not None}))


CASES = {
    # name: (YAML text or tree, text that must appear in the message)
    "not a mapping": ("- just\n- a list\n", "must be a YAML mapping"),
    "yaml syntax": ("temperature: [310 K\nbox: 1\n", "YAML syntax error at line"),
    "unknown top key": (tree(temprature="310 K"), "temprature: unknown key"),
    "unknown species": (_with("compartments.0.concentrations", {"Kx": "150 mM", "A-": "150 mM"}),
                        "compartments[0].concentrations.Kx: unknown species 'Kx'"),
    "missing unit": (_with("compartments.0.depth", 4), "compartments[0].depth: missing unit"),
    "wrong dimension": (_with("run.dt", "2 nm"), "run.dt: '2 nm' is a length, but a time"),
    "unknown unit": (_with("temperature", "37 F"), "temperature: unknown unit 'F'"),
    "negative concentration": (_with("compartments.1.concentrations",
                                     {"K+": "-5 mM", "A-": "-5 mM"}), "must be >= 0 mM"),
    "zero dt": (_with("run.dt", "0 ps"), "run.dt: must be > 0 ps"),
    "negative dt": (_with("run.dt", "-1 ps"), "run.dt: must be > 0 ps"),
    "channel wider than box": (_with("membranes", _membranes(radius="5 nm")),
                               "membranes[0].channels[0].radius: channel diameter"),
    "channel outside box": (_with("membranes", [{"thickness": "3 nm", "channels": [
        {"position": ["9 nm", "1 nm"], "radius": "0.5 nm", "permeant": ["K+"]}]}] * 2),
        "membranes[0].channels[0].position[0]: 9 nm is outside the box"),
    "one membrane": (_with("membranes", _membranes()[:1]), "membranes: one membrane"),
    "overlapping channels": (_with("membranes", [{"thickness": "3 nm", "channels": [
        {"position": ["2 nm", "2 nm"], "radius": "0.8 nm", "permeant": ["K+"]},
        {"position": ["2.5 nm", "2 nm"], "radius": "0.8 nm", "permeant": ["K+"]}]}] * 2),
        "membranes[0].channels: channels 0 at (2, 2) nm and 1 at (2.5, 2) nm overlap"),
    "not electroneutral": (_with("compartments.0.concentrations", {"K+": "150 mM", "A-": "140 mM"}),
                           "compartments[0].concentrations: compartment 'inside' is not "
                           "electroneutral: net charge +10 mM"),
    "more ions than fit": (_with("compartments.0.concentrations", {"K+": "20 M", "A-": "20 M"}),
                           "more ions than fit"),
    "compartments do not match membranes": (_with("compartments", tree()["compartments"][:1]),
                                            "compartments: 2 membranes need 2 compartment(s)"),
    "bad integrator": (_with("run.integrator", "verlet"),
                       "run.integrator: must be one of leimkuhler-matthews, euler-maruyama"),
    "bad electrostatics": (tree(electrostatics="pme"), "electrostatics: must be one of ewald, off"),
    "missing run": (tree(run=None), "run: is required"),
    "steps and duration": (_with("run.duration", "1 ns"), "give exactly one of 'steps: N' or 'duration"),
    "frame not multiple of sample": (_with("run.frame_interval", 15), "must be multiples of sample_interval"),
    "barrier with LM": (_with("membranes", _membranes(barriers={"K+": "2 kT"})),
                        "run.integrator: channel barriers need 'integrator: euler-maruyama'"),
    "bad species override": (tree(species={"Z+": {"valence": 1}}), "species.Z+.diameter: is required"),
    # limits (tests/test_hostile_input.py has the hostile versions)
    "too cold": (_with("temperature", "250 K"),
                 "temperature: must be between 273.15 K and 373.15 K"),
    "too hot": (_with("temperature", "1000 K"),
                "temperature: must be between 273.15 K and 373.15 K"),
    "name is a path": (tree(name="../x"), "name: must be a plain name"),
    "description not text": (tree(description=["a"]), "description: must be text"),
    "duplicate key": (yaml.safe_dump(tree()) + "temperature: 300 K\n",
                      "temperature: duplicate key: given at line"),
    "box too large": (tree(box={"lateral": "2 um"}),
                      "box.lateral: a box edge of 2 um is more than the 1000 nm accepted"),
    "membrane too thick": (_with("membranes", [{"thickness": "1 um"}] * 2),
                           "membranes[0].thickness: a membrane thickness of 1 um is more"),
    "too many channels": (_with("membranes", _membranes(count=20000)),
                          "membranes[0].channels[0].count: 20000 channels; a membrane takes "
                          "at most 5000"),
    "no ions": (_with("compartments", [dict(c, concentrations={"K+": "0 mM"})
                                       for c in tree()["compartments"]]),
                "compartments: every concentration is 0: a run needs ions"),
    "cutoff beyond half the box": (tree(electrostatics={"method": "ewald", "cutoff": "5 nm"}),
                                   "electrostatics.cutoff: 5 nm exceeds half the smallest"),
    "valence too large": (tree(species={"Z+": {"valence": 100, "diameter": "0.3 nm",
                                               "diffusion": "1e-9 m^2/s"}}),
                          "species.Z+.valence: must be a non-zero integer charge"),
    "barrier beyond 100 kT": (_with("membranes", _membranes(barriers={"K+": "-1000 kT"})),
                              "membranes[0].channels[0].barriers.K+: -1000 kT is beyond"),
    "concentration beyond 100 M": (_with("compartments.0.concentrations",
                                         {"K+": "1e300 M", "A-": "1e300 M"}),
                                   "compartments[0].concentrations.A-: 1e300 M is more than "
                                   "the 100 M accepted"),
    # surface charge face by face, and the bulk concentration basis (tests/test_face_charge.py)
    "unknown face": (_with("membranes", [{"thickness": "3 nm", "counterion": "K+",
                                          "surface_charge": {"top": "-0.0625 e/nm^2"}}] * 2),
                     "membranes[0].surface_charge.top: unknown face 'top'; name a face as "
                     "one of lower, upper, 'inside', 'outside'"),
    "face charge without unit": (_with("membranes", [{"thickness": "3 nm", "counterion": "K+",
                                                      "surface_charge": {"inside": -0.0625}}]
                                       * 2),
                                 "membranes[0].surface_charge.inside: missing unit"),
    "counterion of the face's sign": (_with("membranes", [{
        "thickness": "3 nm", "counterion": "K+",
        "surface_charge": {"lower": "-0.0625 e/nm^2", "upper": "0.0625 e/nm^2"}}] * 2),
        "membranes[0].counterion: K+ (valence +1) has the sign of the surface charge"),
    "bad concentration basis": (_with("compartments.0.concentration_basis", "average"),
                                "compartments[0].concentration_basis: must be one of mean, "
                                "bulk"),
    "bulk basis too shallow": (tree(
        compartments=[dict(c, depth="1 nm", concentration_basis="bulk")
                      for c in tree()["compartments"]],
        membranes=[{"thickness": "3 nm", "surface_charge": "-0.5 e/nm^2"}] * 2),
        "compartments[0].depth: 1 nm is too shallow for concentration_basis: bulk"),
    "infinite length": (_with("compartments.0.depth", "1e999 nm"),
                        "compartments[0].depth: '1e999 nm' is not a finite length"),
    # pumps and gated channels (docs/agents.md)
    "pump carries a missing species": (_pumped(carries_out={"Na+": 3}),
                                       "membranes[0].pumps[0].carries_out.Na+: species 'Na+' "
                                       "is not in this scenario"),
    "pump without acceleration": (_pumped(acceleration=None),
                                  "membranes[0].pumps[0].acceleration: is required"),
    "pump rate negative": (_pumped(turnover="-5 /s"),
                           "membranes[0].pumps[0].turnover: must be > 0 1/ns"),
    "pump outside the membrane": (_pumped(count=None, position=["9 nm", "1 nm"]),
                                  "membranes[0].pumps[0].position[0]: 9 nm is outside the "
                                  "membrane"),
    "pump on a pore": (_pumped(count=None, position=["2 nm", "2.5 nm"]),
                       "membranes[0].pumps: pump 0 at (2, 2.5) nm overlaps channel 0"),
    "gating rate negative": (_gated(rates={"closed->open": "-1 /ns",
                                           "open->closed": "1 /ns"}),
                             "membranes[0].channels[0].gating.rates.closed->open: must be > 0"),
    "gating without rates": (_gated(rates=None),
                             "membranes[0].channels[0].gating.rates: is required"),
    "gating one way": (_gated(rates={"closed->open": "1 /ns"}),
                       "'closed->open' has no reverse 'open->closed'"),
    "unknown gating state": (_gated(initial="ajar"),
                             "membranes[0].channels[0].gating.initial: unknown gating state "
                             "'ajar'"),
    "unknown state in protocol": (_gated(protocol=[{"at": "1 ns", "state": "half"}]),
                                  "gating.protocol[0].state: unknown gating state 'half'"),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_scenario_exits_2_with_one_line(name, tmp_path, capsys):
    content, expected = CASES[name]
    path = tmp_path / "bad.yaml"
    path.write_text(content if isinstance(content, str) else yaml.safe_dump(content))
    for command in ("check", "run"):
        code = main([command, str(path), "--out", str(tmp_path / "run")] if command == "run"
                    else [command, str(path)])
        err = capsys.readouterr().err.strip()
        assert code == 2
        assert len(err.splitlines()) == 1, err
        assert err.startswith(f"ionsim: error: {path}: ")
        assert expected in err, err
    assert not (tmp_path / "run" / "trajectory.h5").exists()  # refused before any work


def test_missing_file(tmp_path, capsys):
    assert main(["check", str(tmp_path / "nope.yaml")]) == 2
    err = capsys.readouterr().err
    assert "nope.yaml: no such file" in err


def test_no_traceback_from_the_console_script(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(_with("run.dt", "2")))
    proc = subprocess.run([sys.executable, "-m", "sim", "run", str(path)], capture_output=True,
                          text=True)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert "run.dt: missing unit in '2'" in proc.stderr
    assert len(CASES) + 1 >= 15
