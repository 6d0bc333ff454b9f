"""`ionsim animate`: a short real run rendered to PNG frames, a GIF and an MP4; the pixels
show the membrane and every species; crossings are marked; user errors exit 2 in one line."""

import shutil

import h5py
import numpy as np
import pytest
from matplotlib.colors import to_rgb
from PIL import Image

from analysis.animate import (MEMBRANE_COLOR, HIGHLIGHT_COLOR, RunAnimation, parse_window,
                              render_movie, render_pngs, select_frames, species_color)
from analysis import movie
from analysis.animation_writers import ffmpeg_exe
from sim.cli import UserError, main
from sim.io import RunData
from sim.run import run_scenario
from tests.scenario_factory import scenario

STEPS, FRAME, SAMPLE = 300, 20, 10
N_FRAMES = STEPS // FRAME + 1  # both ends included
DPI = 60  # 768 x 432 px: ions a few pixels wide, fast to render


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """A short real run (electrostatics off) with 16 frames."""
    sc = scenario(run={"dt": "0.05 ps", "steps": STEPS, "seed": 5,
                       "sample_interval": SAMPLE, "frame_interval": FRAME})
    out = tmp_path_factory.mktemp("anim") / "run"
    run_scenario(sc, out)
    return out


def _rgb255(color):
    return np.round(np.array(to_rgb(color)) * 255).astype(np.uint8)


def _pixels_of(img, color, tol=0):
    """Number of pixels within `tol` (per channel) of `color`."""
    diff = np.abs(img[..., :3].astype(int) - _rgb255(color).astype(int))
    return int(np.count_nonzero(diff.max(axis=-1) <= tol))


def test_png_frames_show_membrane_and_every_species(run_dir, tmp_path):
    paths = render_pngs(run_dir, tmp_path / "png", dpi=DPI)
    assert len(paths) == N_FRAMES
    imgs = [np.asarray(Image.open(p).convert("RGB")) for p in paths]
    assert {im.shape for im in imgs} == {(432, 768, 3)}
    first, last = imgs[0], imgs[-1]
    assert _pixels_of(first, MEMBRANE_COLOR) > 1000  # two shaded bands
    run = RunData(run_dir)
    for s, name in enumerate(run.species_names):
        assert _pixels_of(first, species_color(name, s)) > 20, name  # dot interiors
    assert np.count_nonzero(np.any(first != last, axis=-1)) > 500  # the ions moved


def test_gif_has_every_frame(run_dir, tmp_path):
    path = render_movie(run_dir, tmp_path / "movie.gif", dpi=40, fps=10)
    with Image.open(path) as gif:
        assert gif.n_frames == N_FRAMES
        assert gif.info["loop"] == 0 and gif.info["duration"] == 100
        gif.seek(0)
        first = np.asarray(gif.convert("RGB"))
        gif.seek(N_FRAMES - 1)
        last = np.asarray(gif.convert("RGB"))
    assert first.shape == (288, 512, 3)
    assert _pixels_of(first, MEMBRANE_COLOR, tol=12) > 500  # palette-quantised
    assert np.count_nonzero(np.any(first != last, axis=-1)) > 200
    assert not list(tmp_path.glob(".movie*"))  # the temporary file was renamed into place


@pytest.mark.skipif(ffmpeg_exe() is None, reason="imageio-ffmpeg not installed")
def test_mp4_decodes_to_every_frame(run_dir, tmp_path):
    iio = pytest.importorskip("imageio.v3")
    path = render_movie(run_dir, tmp_path / "movie.mp4", dpi=40, fps=12)
    frames = list(iio.imiter(path, plugin="FFMPEG"))
    assert len(frames) == N_FRAMES
    assert frames[0].shape == (288, 512, 3)
    assert not np.array_equal(frames[0], frames[-1])


def test_a_crossing_is_ringed_in_its_frame_and_fades(run_dir):
    """A crossing at a step between frames 5 and 6 is marked from frame 6 on, not before."""
    run = RunData(run_dir)
    k = 6
    step = int(run.frame_steps[k]) - 3
    run.crossings = {"step": np.array([step]), "time": np.array([step * 0.05]),
                     "particle": np.array([0]), "species": run.species[:1],
                     "channel": np.array([0]), "from": np.array([0]), "to": np.array([1])}
    anim = RunAnimation(run, np.arange(run.n_frames), dpi=DPI, fps=5)  # hold: 3 frames
    assert anim.hold == 3
    box = anim.ax_side.get_window_extent()  # the legend's sample ring lies outside it
    h = anim.size[1]
    rows = slice(int(h - box.y1), int(h - box.y0))
    cols = slice(int(box.x0), int(box.x1))
    ring = [_pixels_of(anim.draw(i)[rows, cols], HIGHLIGHT_COLOR, tol=2)
            for i in range(k - 1, k + 4)]
    assert ring[0] == 0 and ring[1] > 20  # absent before, bright at the crossing's frame
    assert ring[-1] == 0  # gone after the hold
    assert anim.side_labels[0].get_visible() is False
    anim.update(k)
    assert anim.side_labels[0].get_text().endswith("outside")


def test_blitting_matches_a_full_redraw(run_dir):
    run = RunData(run_dir)
    frames = np.arange(run.n_frames)
    fast = RunAnimation(run, frames, dpi=DPI, view="both")
    slow = RunAnimation(run, frames, dpi=DPI, view="both", blit=False)
    for i in (0, run.n_frames - 1):
        a, b = fast.draw(i).copy(), slow.draw(i).copy()
        assert a.shape == b.shape
        assert np.count_nonzero(np.any(a != b, axis=-1)) < 0.002 * a.shape[0] * a.shape[1]


def test_voltage_panel_with_nernst_line(run_dir, tmp_path):
    """With a membrane_potential observable the V_m panel, its Nernst line and the title's
    V_m appear (the series is synthetic: electrostatics is too slow for a unit test)."""
    rd = tmp_path / "run_vm"
    shutil.copytree(run_dir, rd)
    with h5py.File(rd / "trajectory.h5", "r+") as f:
        counts = f["observables/counts"]
        g = f["observables"].create_group("membrane_potential")
        g["step"], g["time"] = counts["step"][:], counts["time"][:]
        # a ramp that reaches -40 mV halfway and stays: the title's running mean (a window
        # of a few % of the run) then reads -40.0 mV at the end
        g["value"] = np.clip(np.linspace(0.0, -80.0, len(counts["step"])), -40.0, None)
        g["value"].attrs["unit"] = "mV"
    run = RunData(rd)
    anim = RunAnimation(run, np.arange(run.n_frames), dpi=DPI)
    img = anim.draw(run.n_frames - 1).copy()
    assert anim.ax_v is not None and anim.ax_n is not None
    assert "V_m = \u221240.0 mV" in anim.title.get_text()
    assert [(s, round(e, 9)) for s, e in anim.nernst] == [(0, 0.0)]  # 150/150 mM K+: E_K = 0
    assert _pixels_of(img, species_color("K+", 0)) > 20


def test_without_voltage_the_title_says_so(run_dir):
    run = RunData(run_dir)
    anim = RunAnimation(run, np.arange(run.n_frames), dpi=DPI)
    anim.update(0)
    assert anim.ax_v is None and "electrostatics off" in anim.title.get_text()


def test_without_agents_no_agent_artists(run_dir):
    run = RunData(run_dir)
    anim = RunAnimation(run, np.arange(run.n_frames), dpi=DPI, view="both")
    anim.update(3)
    assert anim.side_closed is None and anim.top_closed is None
    assert anim.side_pumps is None and anim.top_pumps is None and anim.side_carried is None
    assert "pump" not in anim.title.get_text()


# -- agents: a gated channel opened by its protocol, a fast pump --------------------------------
AGENT_STEPS, AGENT_FRAME, OPEN_PS = 400, 20, 5.0  # the gate opens at step 100 = frame 5


@pytest.fixture(scope="module")
def agents_dir(tmp_path_factory):
    """A short run (electrostatics off, ~1 s) with a channel closed until OPEN_PS and one
    pump accelerated 1e10 x with wide capture regions, so that it cycles within the run."""
    conc = {"K+": "150 mM", "Na+": "150 mM", "Cl-": "300 mM"}
    comps = [{"name": n, "depth": "3 nm", "concentrations": conc} for n in ("inside", "outside")]
    gating = {"states": ["closed", "open"], "protocol": [{"at": f"{OPEN_PS} ps",
                                                          "state": "open"}]}
    membranes = [{"thickness": "3 nm",
                  "channels": [{"position": ["2 nm", "2 nm"], "radius": "0.5 nm",
                                "permeant": ["Na+"], "gating": gating}],
                  "pumps": [{"position": ["5.5 nm", "5.5 nm"], "acceleration": 1e10,
                             "capture_radius": "3 nm", "capture_depth": "2 nm"}]},
                 {"thickness": "3 nm"}]
    sc = scenario(box={"lateral": "8 nm"}, compartments=comps, membranes=membranes,
                  run={"dt": "0.05 ps", "steps": AGENT_STEPS, "seed": 3,
                       "sample_interval": AGENT_FRAME, "frame_interval": AGENT_FRAME})
    out = tmp_path_factory.mktemp("agents") / "run"
    run_scenario(sc, out)
    return out


def _axes_pixels(anim, ax, img, color):
    """Pixels of `color` inside the axes `ax` (the legend's samples lie outside it)."""
    box = ax.get_window_extent()
    h = anim.size[1]
    return _pixels_of(img[int(h - box.y1):int(h - box.y0), int(box.x0):int(box.x1)], color)


def test_a_gated_channel_is_drawn_closed_until_its_protocol_opens_it(agents_dir):
    run = RunData(agents_dir)
    gates = run.events["gate_events"]
    assert list(gates["step"]) == [round(OPEN_PS / 0.05)] and list(gates["to"]) == [1]
    k = int(np.searchsorted(run.frame_steps, gates["step"][0]))  # the frame at that step
    assert run.frame_steps[k] == gates["step"][0]
    anim = RunAnimation(run, np.arange(run.n_frames), dpi=DPI, view="both")
    for i, closed in ((0, True), (k - 1, True), (k, False), (run.n_frames - 1, False)):
        img = anim.draw(i).copy()
        assert list(anim.channel_open(i)) == [not closed], i
        # one channel: 3 images in x times 2 drawn copies of its membrane; 3 x 3 from above
        assert len(anim.side_closed.get_paths()) == (6 if closed else 0), i
        assert len(anim.top_closed.get_paths()) == (9 if closed else 0), i
        for ax in (anim.ax_side, anim.ax_top):
            grey = _axes_pixels(anim, ax, img, movie.CLOSED_COLOR)
            assert (grey > 20) if closed else (grey == 0), (i, grey)


def _expected_flash(run):
    """(F,) bool: frames whose step window (previous frame's step, this one's] holds a pump
    event (the run's first frame: every step up to it)."""
    steps = run.events["pump_events"]["step"]
    prev = np.concatenate([[-1], run.frame_steps[:-1]])
    return np.array([np.any((steps > a) & (steps <= b)) for a, b in zip(prev, run.frame_steps)])


def test_a_pump_flashes_in_the_frame_after_its_half_cycle_and_rings_what_it_carried(
        agents_dir):
    run = RunData(agents_dir)
    flash = _expected_flash(run)
    assert flash.any() and not flash.all()  # the run has frames of both kinds
    anim = RunAnimation(run, np.arange(run.n_frames), dpi=DPI, view="both")
    assert "pumps accelerated 1e10\u00d7" in anim.title.get_text()
    big, small = movie.PUMP_FLASH_PT ** 2, movie.PUMP_PT ** 2
    for i in range(run.n_frames):
        anim.update(i)
        assert np.all(anim.side_pumps.get_sizes() == (big if flash[i] else small)), i
        assert np.all(anim.top_pumps.get_sizes() == (big if flash[i] else small)), i
    on, off = int(np.argmax(flash)), int(np.argmin(flash))
    tr = run.events["pump_transfers"]
    prev = run.frame_steps[on - 1] if on else -1
    carried = tr["particle"][(tr["step"] > prev) & (tr["step"] <= run.frame_steps[on])]
    img = anim.draw(on).copy()
    assert len(carried) and len(anim.side_carried.get_offsets()) == len(carried)
    x = np.mod(anim._positions(on)[carried, 0], anim.box[0])
    assert np.allclose(np.asarray(anim.side_carried.get_offsets())[:, 0], x)
    for ax in (anim.ax_side, anim.ax_top):
        assert _axes_pixels(anim, ax, img, movie.PUMP_FLASH) > 5
        assert _axes_pixels(anim, ax, anim.draw(off).copy(), movie.PUMP_FLASH) == 0
    assert len(anim.side_carried.get_offsets()) == 0  # nothing carried in a quiet frame


def test_agents_blitting_matches_a_full_redraw(agents_dir):
    run = RunData(agents_dir)
    frames = np.arange(run.n_frames)
    i = int(np.argmax(_expected_flash(run)))
    fast = RunAnimation(run, frames, dpi=DPI, view="both")
    slow = RunAnimation(run, frames, dpi=DPI, view="both", blit=False)
    a, b = fast.draw(i).copy(), slow.draw(i).copy()
    assert np.count_nonzero(np.any(a != b, axis=-1)) < 0.002 * a.shape[0] * a.shape[1]


def test_window_and_every_select_frames(run_dir):
    run = RunData(run_dir)
    dt_ns = FRAME * 0.05 / 1000
    assert parse_window("2:8") == (2.0, 8.0) and parse_window("3") == (0.0, 3.0)
    assert parse_window("1.5:") == (1.5, None) and parse_window(None) == (0.0, None)
    assert list(select_frames(run, f"{4.5 * dt_ns}")) == [0, 1, 2, 3, 4]
    assert list(select_frames(run, f"{2 * dt_ns}:", every=5)) == [2, 7, 12]
    for bad in ("x", "5:2", "-1", "1:2:3"):
        with pytest.raises(UserError, match="--window"):
            parse_window(bad)


def test_cli_writes_a_movie_and_a_still(run_dir, tmp_path, capsys):
    gif = tmp_path / "a.gif"
    assert main(["animate", str(run_dir), "--out", str(gif), "--dpi", "30", "--every", "5",
                 "--view", "top", "--quiet"]) == 0
    with Image.open(gif) as im:
        assert im.n_frames == len(range(0, N_FRAMES, 5))
    still = tmp_path / "still.png"
    assert main(["animate", str(run_dir), "--out", str(still), "--at", "0.008",
                 "--dpi", "30"]) == 0
    assert Image.open(still).size == (384, 216)
    assert "wrote" in capsys.readouterr().out


def _empty_frames(run_dir, tmp_path):
    rd = tmp_path / "noframes"
    shutil.copytree(run_dir, rd)
    with h5py.File(rd / "trajectory.h5", "r+") as f:
        for key in ("step", "time", "value"):
            f["particles/ions/position"][key].resize(0, axis=0)
    return rd


@pytest.mark.parametrize("case, args, expect", [
    ("no frames", ["--out", "{tmp}/a.gif"], "no frames"),
    ("sparse window", ["--window", "0.0005", "--out", "{tmp}/a.gif"], "at least 2"),
    ("sparse every", ["--every", "100", "--out", "{tmp}/a.gif"], "--every"),
    ("unwritable", ["--out", "{tmp}/no/such/dir/a.gif"], "does not exist"),
    ("out is a dir", ["--out", "{tmp}"], "--out"),
    ("format", ["--out", "{tmp}/a.avi"], "accepted: .mp4, .gif (a movie) or .png"),
    ("not a run", ["--out", "{tmp}/a.gif"], "not an ionsim run"),
    ("--at with a movie", ["--at", "1", "--out", "{tmp}/a.gif"], "--at"),
    ("--at outside", ["--at", "99", "--out", "{tmp}/a.png"], "--at"),
])
def test_user_errors_exit_2_with_one_line(run_dir, tmp_path, capsys, case, args, expect):
    target = run_dir
    if case == "no frames":
        target = _empty_frames(run_dir, tmp_path)
    elif case == "not a run":
        target = tmp_path
    argv = ["animate", str(target), "--quiet"] + [a.format(tmp=tmp_path) for a in args]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("ionsim: error: "), err
    assert expect in err, err
    assert not list(tmp_path.glob("*.gif")) and not list(tmp_path.glob(".a.*"))


def test_bad_option_values_are_usage_errors(run_dir, capsys):
    for argv in (["--fps", "0"], ["--every", "0"], ["--view", "front"], ["--dpi", "-3"]):
        with pytest.raises(SystemExit) as exc:
            main(["animate", str(run_dir)] + argv)
        assert exc.value.code == 2
        assert argv[0] in capsys.readouterr().err
