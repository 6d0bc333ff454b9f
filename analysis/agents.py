"""What the agents between steps did: gated channels against their Markov chain, and the
pumps' ledger of ATP, work and heat (shown by ``ionsim analyze``, the closing table,
``ionsim budget`` and ``ionsim report``; the text is :mod:`analysis.agents_text`).

Units: times ps (ns where a name says so), free energies kJ/mol (per mole of events; also in
kT = k_B T, kJ/mol), voltages mV, charges e, currents pA, rates 1/ps in the simulation's time.

The window. Every average here is over t in [t0, t_end]: t0 = ``run.equilibration`` where
the scenario sets it, else 0 (the whole run); t_end = the last sample or event. The gates'
chains and the pumps do not wait for the ions to equilibrate, so no start is detected.

Gated channels (sim.gating). Each gated channel's state is a step function of time, from
its ``gating.initial`` at t = 0 through the events (step, time, channel, from, to, cause) of
/ionsim/gate_events. Its open fraction over the window is

    f = (1 / (t_end - t0)) * integral_{t0}^{t_end} [state(t) conducts] dt.

Channels with the same gating are independent copies of one chain, so with G >= 2 of them
the mean is f_bar = sum f_g / G with SE = sd(f_g) / sqrt(G); one channel alone gets the SE
of batch means (the window cut into B = 10 equal batches, SE = sd(f_b) / sqrt(B), valid when
a batch is much longer than the chain's relaxation time, which is printed beside it).

Theory: the stationary distribution pi of the rate matrix Q (sim.gating.rate_matrix, at V
in kJ/(mol e) = mV / MV_PER_KJ_MOL_E) solves pi Q = 0, sum pi = 1 (the null space of Q^T,
unique for an irreducible chain); the stationary open fraction is the sum of pi over the
conducting states. A voltage-dependent gate is evaluated at the run's mean V_m over the
window (the membrane_potential observable); since the rates are exponential in V, that is
the stationary value only where V_m fluctuates little on the scale kT / (q e). Without a
potential (electrostatics off) the engine gates at V = 0 exactly, and so does the theory.

Dwell times: a sojourn is the time between two consecutive events of a channel. Completed
sojourns only: the first one (begun at the run's start or before t0: censored at the start)
and the last one (still going at t_end: censored at the end) are dropped, and so is any
sojourn ended by a protocol event (cut short by the clamp, not by the chain). A sojourn begun
by a protocol event is kept: the chain is memoryless, so the time to its next jump does not
depend on how the state was entered. For a chain with rates constant in time (not
voltage-dependent, or V = 0 throughout) the sojourns in state a are exponential with mean
1 / k_a, k_a = -Q[a, a] the total exit rate; the KS statistic and p-value against it come
from scipy.stats.kstest. (The engine jumps on a grid of Delta t = agent_interval * dt, so the
durations are multiples of Delta t: negligible while k_a Delta t << 1, printed as well.)

Pumps (sim.pumps). Each executed half-cycle i has an ATP count a_i (+1 hydrolysed, -1 made,
0) and dG_i, the free energy change of the transition as executed, ATP term included. With
dG_ATP < 0 the pump's ATP free energy:

    net cycles        N = n(out forward) - n(out backward)      (net out half-cycles)
    ATP net           A_net = sum a_i                           (hydrolysed - made)
    energy from ATP   E_ATP = A_net |dG_ATP|
    work stored       W = sum_i (dG_i - a_i dG_ATP)   the free energy change of the ions
                      (their concentration and electric terms): what is stored in the
                      gradients, positive when the pump works uphill
    heat              Q = -sum_i dG_i = E_ATP - W     dissipated, >= 0 on average
    efficiency        eta = W / E_ATP                 (where E_ATP > 0)

Rates: the pumps' rates are multiplied by their ``acceleration`` A, so a simulated time t
stands for A t of the real pump's time: r = N / (t_end - t0) net cycles per simulated ns
are r / A per real ns, i.e. 1e9 r / A cycles per real second. The net charge moved out
(inside -> outside, from /ionsim/pump_transfers) Q_e in e over the window gives the pump
current I = Q_e e / t (outward positive), in pA: 1 e/ns is 160.2 pA in the simulation's
time, and I / A in real time. Every ledger carries A.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy import stats
from scipy.linalg import null_space

from sim.agent_rates import (CAUSE_PROTOCOL, IN_BACKWARD, IN_FORWARD, OUT_BACKWARD,
                             OUT_FORWARD, PumpSet, net_charge, rate_matrix,
                             voltage_dependent)
from sim.units import ELEMENTARY_CHARGE, MV_PER_KJ_MOL_E, PS_PER_NS

__all__ = ["GateTimeline", "DwellStats", "GateKind", "PumpLedger", "AgentAnalysis",
           "has_agents", "agent_window", "run_end_ps", "gate_timelines", "occupancy",
           "open_fraction", "batch_open_fractions", "stationary_distribution",
           "stationary_open_fraction", "relaxation_time_ps", "completed_sojourns",
           "dwell_stats", "analyze_gates", "open_fraction_series", "pump_ledger",
           "pump_ledgers", "cumulative_net_cycles", "analyze_agents", "PA_PER_E_PER_NS",
           "N_BATCHES", "MIN_KS_SOJOURNS"]

N_BATCHES = 10  # batches of the one-channel open fraction's SE
MIN_KS_SOJOURNS = 5  # a KS test on fewer sojourns says nothing
#: 1 e per ns as a current, pA: 1.602e-19 C / 1e-9 s = 1.602e-10 A
PA_PER_E_PER_NS = ELEMENTARY_CHARGE * 1e9 * 1e12
_S_PER_PS = 1e-12


def has_agents(scenario) -> bool:
    """Whether the scenario has a gated channel or a pump."""
    return any(ch.gating is not None for m in scenario.membranes for ch in m.channels) or \
        any(m.pumps for m in scenario.membranes)


# --- the window -----------------------------------------------------------------------------

def run_end_ps(run) -> float:
    """The run's last time, ps: its last sample, or a later event."""
    t = 0.0
    if "counts" in run.observable_names:
        times = run.observable("counts").time
        if times.size:
            t = float(times[-1])
    for table in ("gate_events", "pump_events"):
        times = run.events[table]["time"]
        if times.size:
            t = max(t, float(np.max(times)))
    return t


def agent_window(scenario, t_end_ps: float) -> tuple[float, float, str]:
    """(t0, t_end, words) ps: after ``run.equilibration`` where set (capped at t_end),
    else the whole run (see the module docstring)."""
    given = scenario.run.equilibration
    if given is not None and given > 0:
        return min(float(given), t_end_ps), t_end_ps, \
            f"after run.equilibration = {given / PS_PER_NS:g} ns"
    return 0.0, t_end_ps, "the whole run"


# --- gated channels ---------------------------------------------------------------------------

@dataclass(frozen=True)
class GateTimeline:
    """One gated channel's states as a step function of time.

    Attributes:
        channel: index in the geometry's channel order (membranes, then channels).
        label: 'membrane j channel i'.
        kind: index of its gating among the scenario's distinct gatings.
        times: (E + 1,) ps, when each segment starts (0 for the first).
        states: (E + 1,) state index of each segment (into the gating's states).
        causes: (E + 1,) cause of the event that began it (-1 the start, 0 chain, 1 protocol).
        t_end: ps, the end of the last segment.
        consistent: whether every event's `from` was the state before it.
    """

    channel: int
    label: str
    kind: int
    times: np.ndarray
    states: np.ndarray
    causes: np.ndarray
    t_end: float
    consistent: bool = True

    @property
    def ends(self) -> np.ndarray:
        """(E + 1,) ps, when each segment ends."""
        return np.append(self.times[1:], self.t_end)


def _gated_channels(scenario):
    """[(geometry channel index, label, gating)] of every gated channel, and the distinct
    gatings in order of first appearance."""
    out, kinds = [], []
    c = 0
    for j, m in enumerate(scenario.membranes):
        for i, ch in enumerate(m.channels):
            if ch.gating is not None:
                if ch.gating not in kinds:
                    kinds.append(ch.gating)
                out.append((c, f"membrane {j} channel {i}", ch.gating))
            c += 1
    return out, kinds


def _split_by(table: dict, key: str, keys) -> dict:
    """{k: the rows of `table` whose `key` is k, in step order} for each k of `keys`: one
    sort, so that thousands of channels or pumps cost no more than one pass."""
    col = np.asarray(table[key], dtype=np.int64)
    order = np.lexsort((np.asarray(table["step"]), col))  # by key, then by step
    sorted_col = col[order]
    out = {}
    for k in keys:
        lo, hi = np.searchsorted(sorted_col, [k, k + 1])
        rows = order[lo:hi]
        out[k] = {f: np.asarray(v)[rows] for f, v in table.items()}
    return out


def gate_timelines(scenario, gate_events: dict, t_end_ps: float) -> list[GateTimeline]:
    """Every gated channel's timeline from the gate_events table (field -> array)."""
    channels, kinds = _gated_channels(scenario)
    by_channel = _split_by(gate_events, "channel", [c for c, _, _ in channels])
    out = []
    for c, label, gating in channels:
        ev = by_channel[c]
        first = gating.states.index(gating.initial)
        states = np.concatenate([[first], ev["to"].astype(np.int64)])
        times = np.concatenate([[0.0], ev["time"].astype(float)])
        out.append(GateTimeline(
            channel=c, label=label, kind=kinds.index(gating), times=times, states=states,
            causes=np.concatenate([[-1], ev["cause"].astype(np.int64)]),
            t_end=max(t_end_ps, float(times[-1])),
            consistent=bool(np.all(ev["from"] == states[:-1]))))
    return out


def occupancy(tl: GateTimeline, n_states: int, t0: float, t1: float) -> np.ndarray:
    """(n_states,) fraction of [t0, t1] ps spent in each state (NaN for an empty window)."""
    if not t1 > t0:
        return np.full(n_states, np.nan)
    lo = np.clip(tl.times, t0, t1)
    hi = np.clip(tl.ends, t0, t1)
    return np.bincount(tl.states, weights=hi - lo, minlength=n_states) / (t1 - t0)


def open_fraction(tl: GateTimeline, conducting: np.ndarray, t0: float, t1: float) -> float:
    """Time-weighted fraction of [t0, t1] ps the channel conducts; conducting: (S,) bool."""
    return float(np.sum(occupancy(tl, conducting.size, t0, t1)[conducting]))


def batch_open_fractions(tl: GateTimeline, conducting: np.ndarray, t0: float, t1: float,
                         n_batches: int = N_BATCHES) -> np.ndarray:
    """(n_batches,) open fraction of each of n_batches equal parts of [t0, t1] ps."""
    edges = np.linspace(t0, t1, n_batches + 1)
    return np.array([open_fraction(tl, conducting, a, b) for a, b in zip(edges, edges[1:])])


def stationary_distribution(Q: np.ndarray) -> np.ndarray | None:
    """pi with pi Q = 0, sum pi = 1 (the null space of Q^T); None where it is not unique
    (no rates, or a chain that falls apart into separate pieces)."""
    if not np.any(Q):
        return None
    ns = null_space(Q.T)
    if ns.shape[1] != 1:
        return None
    pi = ns[:, 0] / ns[:, 0].sum()
    return np.clip(pi, 0.0, None) / np.clip(pi, 0.0, None).sum()


def stationary_open_fraction(gating, v: float, kT: float) -> float | None:
    """Sum of pi over the conducting states at V = v kJ/(mol e) (None, see
    :func:`stationary_distribution`)."""
    pi = stationary_distribution(rate_matrix(gating, v, kT))
    if pi is None:
        return None
    return float(sum(p for s, p in zip(gating.states, pi) if s in gating.conducting))


def relaxation_time_ps(gating, v: float, kT: float) -> float | None:
    """The chain's slowest relaxation time 1 / |lambda_2| ps (lambda_2 the non-zero
    eigenvalue of Q nearest 0), None without rates."""
    lam = np.linalg.eigvals(rate_matrix(gating, v, kT)).real
    nonzero = np.abs(lam)[np.abs(lam) > 1e-12 * max(1.0, np.max(np.abs(lam)))]
    return float(1.0 / np.min(nonzero)) if nonzero.size else None


def completed_sojourns(tl: GateTimeline, t0: float, t1: float) -> tuple[np.ndarray,
                                                                          np.ndarray]:
    """(states, durations ps) of the completed sojourns begun at or after t0 and ended by a
    chain event at or before t1 (module docstring: censored and protocol-cut ones
    dropped)."""
    starts, ends = tl.times, tl.ends
    begun_by_event = np.arange(starts.size) >= 1  # the first segment starts with the run
    ended_by_chain = np.append(tl.causes[1:] != CAUSE_PROTOCOL, False)  # the last: open
    keep = begun_by_event & ended_by_chain & (starts >= t0) & (ends <= t1)
    return tl.states[keep], (ends - starts)[keep]


@dataclass(frozen=True)
class DwellStats:
    """Completed sojourns in one state of one gating (durations in ps).

    Attributes:
        state: its name; n: sojourns; mean_ps, sem_ps: their mean and sd / sqrt(n) (NaN
            for n < 1 and n < 2).
        expected_ps: 1 / k_exit at the voltage used (None where k_exit = 0).
        k_exit_dt: k_exit x the agent interval (<< 1 for the exponential to hold).
        ks_statistic, ks_p: KS test against the exponential of mean expected_ps (None
            where the rates are not constant in time or n < MIN_KS_SOJOURNS).
    """

    state: str
    n: int
    mean_ps: float
    sem_ps: float
    expected_ps: float | None
    k_exit_dt: float
    ks_statistic: float | None = None
    ks_p: float | None = None


def dwell_stats(gating, states: np.ndarray, durations: np.ndarray, v: float, kT: float,
                dt_agent_ps: float, constant_rates: bool) -> tuple[DwellStats, ...]:
    """Per state of `gating`: the sojourns (states, durations ps, pooled over its channels)
    against 1 / k_exit at V = v kJ/(mol e); the KS test only where constant_rates."""
    Q = rate_matrix(gating, v, kT)
    out = []
    for a, name in enumerate(gating.states):
        d = durations[states == a]
        k = -Q[a, a]
        expected = float(1.0 / k) if k > 0 else None
        ks = (None, None)
        if constant_rates and expected is not None and d.size >= MIN_KS_SOJOURNS:
            res = stats.kstest(d, "expon", args=(0.0, expected))
            ks = (float(res.statistic), float(res.pvalue))
        out.append(DwellStats(
            state=name, n=int(d.size), mean_ps=float(d.mean()) if d.size else math.nan,
            sem_ps=float(d.std(ddof=1) / math.sqrt(d.size)) if d.size >= 2 else math.nan,
            expected_ps=expected, k_exit_dt=float(k * dt_agent_ps), ks_statistic=ks[0],
            ks_p=ks[1]))
    return tuple(out)


@dataclass(frozen=True)
class GateKind:
    """The channels that share one gating, over the window [t0, t1] ps.

    Attributes:
        label: where they are ('membrane 0: 4 channels'); states, conducting: the gating's.
        channels: their geometry indices; timelines: their :class:`GateTimeline`.
        open_fractions: (G,) each channel's open fraction.
        open_mean, open_sem: the mean and its SE; sem_method: 'channels' (their spread) or
            'batch means' (one channel), or '' without an SE.
        chain_events, protocol_events: events in the window by cause.
        voltage_dependent: whether the rates depend on V; v_mV: the V of the theory, and
            v_source its words.
        theory_open: stationary open fraction at v_mV (None: theory_reason says why).
        relaxation_ps: the chain's slowest relaxation time at v_mV (None without rates).
        dwell: :class:`DwellStats` per state.
    """

    label: str
    states: tuple[str, ...]
    conducting: tuple[str, ...]
    channels: tuple[int, ...]
    timelines: tuple[GateTimeline, ...]
    open_fractions: np.ndarray
    open_mean: float
    open_sem: float
    sem_method: str
    chain_events: int
    protocol_events: int
    voltage_dependent: bool
    v_mV: float
    v_source: str
    theory_open: float | None
    theory_reason: str
    relaxation_ps: float | None
    dwell: tuple[DwellStats, ...]
    has_protocol: bool = False

    @property
    def deviation_se(self) -> float | None:
        """(open_mean - theory) / SE, None without both."""
        if self.theory_open is None or not (self.open_sem > 0):
            return None
        return (self.open_mean - self.theory_open) / self.open_sem


def _mean_and_sem(tls, mask, t0, t1) -> tuple[np.ndarray, float, float, str]:
    """Per-channel open fractions, their mean, SE and how the SE was found."""
    f = np.array([open_fraction(tl, mask, t0, t1) for tl in tls])
    if f.size >= 2:
        return f, float(f.mean()), float(f.std(ddof=1) / math.sqrt(f.size)), "channels"
    b = batch_open_fractions(tls[0], mask, t0, t1)
    if not np.all(np.isfinite(b)):
        return f, float(f.mean()), math.nan, ""
    return f, float(f.mean()), float(b.std(ddof=1) / math.sqrt(b.size)), "batch means"


def _kind_label(tls) -> str:
    membranes = sorted({tl.label.split(" channel")[0] for tl in tls})
    n = len(tls)
    return f"{', '.join(membranes)}: {n} channel{'s' if n != 1 else ''}"


def _gate_kind(gating, tls, t0, t1, vm_mV, has_potential, kT, dt_agent) -> GateKind:
    mask = np.array([s in gating.conducting for s in gating.states])
    f, mean, sem, method = _mean_and_sem(tls, mask, t0, t1)
    vdep = voltage_dependent(gating)
    if not has_potential:
        v_mV, v_source = 0.0, "V = 0 (no potential: the engine gates at V = 0)"
    elif vm_mV is not None and math.isfinite(vm_mV):
        v_mV, v_source = float(vm_mV), "the mean V_m over the window"
    else:
        v_mV, v_source = math.nan, "no mean V_m"
    v = v_mV / MV_PER_KJ_MOL_E if math.isfinite(v_mV) else math.nan
    theory, reason, relax = None, "", None
    if not gating.rates:
        reason = "no rates: the protocol alone sets the states"
    elif vdep and not math.isfinite(v):
        reason = "voltage-dependent and no mean V_m to evaluate it at"
    else:
        v_eval = v if vdep else 0.0
        theory = stationary_open_fraction(gating, v_eval, kT)
        relax = relaxation_time_ps(gating, v_eval, kT)
        if theory is None:
            reason = "the chain has no unique stationary distribution"
    v_dwell = (v if vdep else 0.0) if math.isfinite(v) else 0.0
    soj = [completed_sojourns(tl, t0, t1) for tl in tls]
    st = np.concatenate([s for s, _ in soj]) if soj else np.zeros(0, np.int64)
    du = np.concatenate([d for _, d in soj]) if soj else np.zeros(0)
    constant = (not vdep) or not has_potential
    dwell = dwell_stats(gating, st.astype(np.int64), du, v_dwell, kT, dt_agent,
                        constant and bool(gating.rates))
    in_window = [(tl.times[1:] >= t0) & (tl.times[1:] <= t1) for tl in tls]
    chain = sum(int(np.sum(w & (tl.causes[1:] != CAUSE_PROTOCOL)))
                for w, tl in zip(in_window, tls))
    proto = sum(int(np.sum(w & (tl.causes[1:] == CAUSE_PROTOCOL)))
                for w, tl in zip(in_window, tls))
    return GateKind(
        label=_kind_label(tls), states=gating.states, conducting=gating.conducting,
        channels=tuple(tl.channel for tl in tls), timelines=tuple(tls), open_fractions=f,
        open_mean=mean, open_sem=sem, sem_method=method, chain_events=chain,
        protocol_events=proto, voltage_dependent=vdep, v_mV=v_mV, v_source=v_source,
        theory_open=theory, theory_reason=reason, relaxation_ps=relax, dwell=dwell,
        has_protocol=bool(gating.protocol))


def analyze_gates(scenario, gate_events: dict, t0: float, t1: float,
                  vm_mV: float | None = None, has_potential: bool = False) -> list[GateKind]:
    """One :class:`GateKind` per distinct gating of the scenario, over [t0, t1] ps.

    Args:
        gate_events: the /ionsim/gate_events table (field -> array).
        vm_mV: the mean V_m over the window, mV (for voltage-dependent theory).
        has_potential: whether the run measured a potential (without one the engine gated
            at V = 0).
    """
    tls = gate_timelines(scenario, gate_events, t1)
    _, kinds = _gated_channels(scenario)
    dt_agent = scenario.run.agent_interval * scenario.run.dt
    return [_gate_kind(g, [tl for tl in tls if tl.kind == k], t0, t1, vm_mV, has_potential,
                       scenario.kT, dt_agent) for k, g in enumerate(kinds)]


def open_fraction_series(kind: GateKind) -> tuple[np.ndarray, np.ndarray]:
    """(times ps, fraction of the kind's channels open from each time on): a step function
    starting at t = 0, one point per event."""
    mask = np.array([s in kind.conducting for s in kind.states])
    t, delta = [], []
    n_open = 0
    for tl in kind.timelines:
        n_open += int(mask[tl.states[0]])
        t.append(tl.times[1:])
        delta.append(mask[tl.states[1:]].astype(int) - mask[tl.states[:-1]].astype(int))
    t = np.concatenate(t) if t else np.zeros(0)
    delta = np.concatenate(delta) if delta else np.zeros(0, int)
    order = np.argsort(t, kind="stable")
    counts = n_open + np.concatenate([[0], np.cumsum(delta[order])])
    return np.concatenate([[0.0], t[order]]), counts / max(1, len(kind.timelines))


# --- pumps ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class PumpLedger:
    """One pump's (or all pumps') account over the window (module docstring).

    Attributes:
        label: 'pump 3' or 'all pumps'; pumps: their indices (sim.pumps.PumpSet order).
        accelerations: (P,) each pump's acceleration A; atp_free_energy_kJ_mol: (P,) its
            dG_ATP (< 0); kT_kJ_mol: k_B T.
        window_ps: (t0, t1).
        half_cycles: events per transition (out fwd, in fwd, out back, in back).
        atp_hydrolysed, atp_synthesised: ATP used by out forward, made by out backward.
        atp_energy_kJ_mol: A_net |dG_ATP| summed over the pumps.
        work_stored_kJ_mol: W = sum (dG - a dG_ATP), the ions' free energy change.
        heat_kJ_mol: -sum dG.
        charge_out_e: net charge carried inside -> outside (e).
        ions_out: species -> net ions carried inside -> outside.
        cycles_per_ns: net cycles per pump per simulated ns.
        cycles_per_s_real: net cycles per pump per second of the real pump's time (the
            mean over the pumps of each one's rate / A).
        current_pA: I = charge_out e / t, outward positive, in the simulation's time (all
            the pumps together); current_real_pA: the same in real time (sum of I_p / A_p).
    """

    label: str
    pumps: tuple[int, ...]
    accelerations: tuple[float, ...]
    atp_free_energy_kJ_mol: tuple[float, ...]
    kT_kJ_mol: float
    window_ps: tuple[float, float]
    half_cycles: tuple[int, int, int, int]
    atp_hydrolysed: int
    atp_synthesised: int
    atp_energy_kJ_mol: float
    work_stored_kJ_mol: float
    heat_kJ_mol: float
    charge_out_e: float
    ions_out: dict
    cycles_per_ns: float
    cycles_per_s_real: float
    current_pA: float
    current_real_pA: float

    @property
    def net_cycles(self) -> int:
        return self.half_cycles[OUT_FORWARD] - self.half_cycles[OUT_BACKWARD]

    @property
    def net_in_half_cycles(self) -> int:
        return self.half_cycles[IN_FORWARD] - self.half_cycles[IN_BACKWARD]

    @property
    def atp_net(self) -> int:
        return self.atp_hydrolysed - self.atp_synthesised

    @property
    def efficiency(self) -> float | None:
        """W / E_ATP, None where no net ATP was spent."""
        return self.work_stored_kJ_mol / self.atp_energy_kJ_mol \
            if self.atp_energy_kJ_mol > 0 else None

    @property
    def acceleration(self) -> float | None:
        """The pumps' common A (None if they differ or there are none)."""
        a = set(self.accelerations)
        return a.pop() if len(a) == 1 else None

    @property
    def window_ns(self) -> float:
        return (self.window_ps[1] - self.window_ps[0]) / PS_PER_NS

    @property
    def real_window_s(self) -> float | None:
        """The window in the real pump's time, s (None for mixed accelerations)."""
        a = self.acceleration
        return None if a is None else (self.window_ps[1] - self.window_ps[0]) * a * _S_PER_PS

    @property
    def charge_out_per_ns(self) -> float:
        """e per simulated ns (NaN for an empty window)."""
        return self.charge_out_e / self.window_ns if self.window_ns > 0 else math.nan

    def in_kT(self, kJ_mol: float) -> float:
        return kJ_mol / self.kT_kJ_mol


def _rate(n: float, window_ns: float) -> float:
    return n / window_ns if window_ns > 0 else math.nan


def pump_ledger(pump_set: PumpSet, events: dict, transfers: dict, species_names, valences,
                kT: float, t0: float, t1: float, which, label: str) -> PumpLedger:
    """The :class:`PumpLedger` of the pumps `which` (indices) over [t0, t1] ps.

    Args:
        pump_set: the scenario's sim.pumps.PumpSet (records, inside, outside).
        events, transfers: the pump_events and pump_transfers tables (field -> array).
        species_names, valences: the scenario's species, in order.
        kT: k_B T, kJ/mol.
    """
    which = tuple(int(p) for p in which)
    ev_p = np.asarray(events["pump"], dtype=np.int64)
    ev_t = np.asarray(events["time"], float)
    sel = np.isin(ev_p, which) & (ev_t >= t0) & (ev_t <= t1)
    trans = np.asarray(events["transition"], dtype=np.int64)[sel]
    atp = np.asarray(events["atp"], dtype=np.int64)[sel]
    dG = np.asarray(events["dG"], float)[sel]
    g_atp_all = np.array([r.atp_free_energy for r in pump_set.records])
    g_atp = g_atp_all[ev_p[sel]] if len(pump_set) else np.zeros(0)
    counts = np.bincount(trans, minlength=4)[:4]
    accel = tuple(float(pump_set.records[p].acceleration) for p in which)
    window_ns = (t1 - t0) / PS_PER_NS

    # the ions each pump carried: + out of its inside, - back in
    tr_p = np.asarray(transfers["pump"], dtype=np.int64)
    tr_t = np.asarray(transfers["time"], float)
    tsel = np.isin(tr_p, which) & (tr_t >= t0) & (tr_t <= t1)
    tp, frm, to = tr_p[tsel], np.asarray(transfers["from"])[tsel], \
        np.asarray(transfers["to"])[tsel]
    sp = np.asarray(transfers["species"], dtype=np.int64)[tsel]
    sign = np.where((frm == pump_set.inside[tp]) & (to == pump_set.outside[tp]), 1,
                    np.where((frm == pump_set.outside[tp]) & (to == pump_set.inside[tp]), -1,
                             0)) if tp.size else np.zeros(0, int)
    z = np.asarray(valences, float)
    charge = float(np.sum(sign * z[sp])) if sp.size else 0.0
    ions_out = {name: int(np.sum(sign[sp == s])) for s, name in enumerate(species_names)}

    # per pump, for the real-time rates (each pump has its own acceleration)
    # per pump (each has its own acceleration): net cycles and charge by bincount
    n_pumps = len(pump_set)
    step = np.where(trans == OUT_FORWARD, 1, np.where(trans == OUT_BACKWARD, -1, 0))
    n_per = np.bincount(ev_p[sel], weights=step, minlength=n_pumps)
    q_per = np.bincount(tp, weights=sign * z[sp], minlength=n_pumps) if sp.size else \
        np.zeros(n_pumps)
    a = np.array(accel)
    idx = np.array(which, dtype=np.int64)
    if window_ns > 0:
        per_real = n_per[idx] / window_ns * 1e9 / a  # per real s: 1e9 ns / A
        current_real = float(np.sum(q_per[idx] / window_ns * PA_PER_E_PER_NS / a))
    else:
        per_real, current_real = np.full(idx.size, math.nan), math.nan
    n_net = int(counts[OUT_FORWARD] - counts[OUT_BACKWARD])
    return PumpLedger(
        label=label, pumps=which, accelerations=accel,
        atp_free_energy_kJ_mol=tuple(float(g_atp_all[p]) for p in which), kT_kJ_mol=kT,
        window_ps=(t0, t1), half_cycles=tuple(int(c) for c in counts),
        atp_hydrolysed=int(np.sum(atp == 1)), atp_synthesised=int(np.sum(atp == -1)),
        atp_energy_kJ_mol=float(np.sum(atp * np.abs(g_atp))),
        work_stored_kJ_mol=float(np.sum(dG - atp * g_atp)), heat_kJ_mol=float(-np.sum(dG)),
        charge_out_e=charge, ions_out=ions_out,
        cycles_per_ns=_rate(n_net, window_ns) / max(1, len(which)),
        cycles_per_s_real=float(np.mean(per_real)) if per_real.size else math.nan,
        current_pA=_rate(charge, window_ns) * PA_PER_E_PER_NS,
        current_real_pA=current_real)


def pump_ledgers(scenario, pump_events: dict, pump_transfers: dict, t0: float,
                 t1: float) -> tuple[list[PumpLedger], PumpLedger | None]:
    """(one ledger per pump, the ledger of all of them) over [t0, t1] ps; ([], None)
    without pumps."""
    ps = PumpSet(scenario)
    if not len(ps):
        return [], None
    names = [s.name for s in scenario.species]
    val = [s.valence for s in scenario.species]
    args = (ps, names, val, scenario.kT, t0, t1)
    pumps = range(len(ps))
    events, transfers = _split_by(pump_events, "pump", pumps), \
        _split_by(pump_transfers, "pump", pumps)
    per = [pump_ledger(ps, events[p], transfers[p], *args[1:], [p], f"pump {p}")
           for p in pumps]
    return per, pump_ledger(ps, pump_events, pump_transfers, *args[1:], pumps, "all pumps")


def cumulative_net_cycles(pump_events: dict) -> tuple[np.ndarray, np.ndarray]:
    """(times ps, net cycles of all pumps so far) after each out half-cycle, from t = 0."""
    trans = np.asarray(pump_events["transition"], dtype=np.int64)
    out = (trans == OUT_FORWARD) | (trans == OUT_BACKWARD)
    t = np.asarray(pump_events["time"], float)[out]
    step = np.where(trans[out] == OUT_FORWARD, 1, -1)
    order = np.argsort(t, kind="stable")
    return np.concatenate([[0.0], t[order]]), np.concatenate([[0], np.cumsum(step[order])])


# --- a whole run ----------------------------------------------------------------------------

@dataclass
class AgentAnalysis:
    """Everything about a run's agents (see :func:`analyze_agents`).

    Attributes:
        window_ps: (t0, t1); window_source: words.
        vm_mV: the mean V_m over the window (None without a potential).
        gates: :class:`GateKind` per distinct gating; pumps: a :class:`PumpLedger` per pump;
        pumps_total: all pumps' ledger (None without pumps).
        net_charge_per_cycle: (P,) e each pump's forward cycle moves out.
        notes: caveats.
    """

    window_ps: tuple[float, float]
    window_source: str
    vm_mV: float | None
    gates: list[GateKind]
    pumps: list[PumpLedger]
    pumps_total: PumpLedger | None
    net_charge_per_cycle: tuple[int, ...] = ()
    notes: list[str] = field(default_factory=list)


def _window_mean_vm(run, t0: float, t1: float) -> float | None:
    """Mean of the membrane_potential observable (mV) over samples in [t0, t1]."""
    if "membrane_potential" not in run.observable_names:
        return None
    s = run.observable("membrane_potential")
    v = np.asarray(s.value, float)
    sel = (np.asarray(s.time) >= t0) & (np.asarray(s.time) <= t1) & np.isfinite(v)
    return float(np.mean(v[sel])) if np.any(sel) else None


def _notes(gates: list[GateKind], total: PumpLedger | None, t0: float,
           t1: float) -> list[str]:
    notes = []
    for g in gates:
        bad = [tl.label for tl in g.timelines if not tl.consistent]
        if bad:
            notes.append(f"gate events of {', '.join(bad[:3])} do not follow on from each "
                         f"other (a `from` that is not the state before it)")
        if g.sem_method == "batch means" and g.relaxation_ps is not None and \
                t1 - t0 < 10 * N_BATCHES * g.relaxation_ps:
            notes.append(f"gates {g.label}: one channel, batches shorter than 10 relaxation "
                         f"times ({g.relaxation_ps / PS_PER_NS:.3g} ns): the SE is "
                         f"uncertain (run longer or use more channels)")
        if g.has_protocol and g.theory_open is not None:
            notes.append(f"gates {g.label}: a protocol forces states, so the open fraction "
                         f"need not be the chain's stationary one")
    if total is not None and total.net_cycles == 0 and sum(total.half_cycles) == 0:
        notes.append("the pumps made no transition in the window (too few ions in their "
                     "capture regions, or a run short for their rates times the "
                     "acceleration)")
    return notes


def analyze_agents(run, vm_mV: float | None = None) -> AgentAnalysis | None:
    """The agents of a run (sim.io.RunData): None where it has neither gated channels nor
    pumps.

    Args:
        vm_mV: the mean V_m to evaluate voltage-dependent gates at, mV; default the mean of
            the membrane_potential observable over the window.
    """
    sc = run.scenario
    if not has_agents(sc):
        return None
    t0, t1, source = agent_window(sc, run_end_ps(run))
    has_potential = "membrane_potential" in run.observable_names
    if vm_mV is None:
        vm_mV = _window_mean_vm(run, t0, t1)
    gates = analyze_gates(sc, run.events["gate_events"], t0, t1, vm_mV, has_potential)
    per, total = pump_ledgers(sc, run.events["pump_events"], run.events["pump_transfers"],
                              t0, t1)
    valence = {s.name: s.valence for s in sc.species}
    q = tuple(net_charge(r, valence) for r in PumpSet(sc).records)
    return AgentAnalysis(window_ps=(t0, t1), window_source=source, vm_mV=vm_mV, gates=gates,
                         pumps=per, pumps_total=total, net_charge_per_cycle=q,
                         notes=_notes(gates, total, t0, t1))
