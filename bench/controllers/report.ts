/**
 * Markdown for the controller workloads (1-4) and their targets, from the results of a run. Pure.
 */
import type { RequestTally } from '../lib/audit.ts';
import { markdownTable, seconds, verdict, type Cell } from '../lib/markdown.ts';
import { formatSpread, inRoundRatios, spread, type Spread } from '../lib/stats.ts';
import type { Phase } from '../lib/phases.ts';
import type { RuntimeFloor } from '../lib/runtime-floor.ts';
import type { BurstResult, ChurnResult, RestartResult } from './workloads.ts';

export interface ContenderInfo {
  id: string;
  label: string;
  kind: string;
  workers: number;
  rate: string;
  latencyMs: number;
}

export interface TurnResult {
  contender: string;
  round: number;
  burst?: BurstResult;
  churn?: ChurnResult;
  restart?: RestartResult;
  error?: string;
}

export interface ControllersRun {
  machine: string;
  date: string;
  quick: boolean;
  services: number;
  nodes: number;
  latencyMs: number;
  workers: number;
  rounds: number;
  pool: string;
  contenders: ContenderInfo[];
  /** the phases each turn ran (PHASES; absent in runs from before it: all three) */
  phases?: Phase[];
  turns: TurnResult[];
  big?: {
    services: number;
    contenders: ContenderInfo[];
    turns: TurnResult[];
    /** the memory limit ours ran within (absent in older runs) */
    oursMemoryLimitMiB?: number;
  };
  /** Node alone, Node with client-node loaded, and that as TypeScript, measured in the same run (bench/lib/runtime-floor.ts) */
  runtimeFloor?: RuntimeFloor;
  /** how ours ran: compiled as its image is, or another build (absent in older runs: from its .ts sources) */
  oursBuild?: string;
}

export interface TargetRow {
  target: string;
  result: string;
  met: boolean | undefined;
}

/** per round, in round order: the value for one contender (undefined where a round has none) */
function perRound<T>(
  run: { rounds: number; turns: TurnResult[] },
  id: string,
  pick: (t: TurnResult) => T | undefined,
): (T | undefined)[] {
  return Array.from({ length: run.rounds }, (_, r) => {
    const t = run.turns.find((x) => x.contender === id && x.round === r);
    return t ? pick(t) : undefined;
  });
}

const num = (xs: (number | undefined)[]): number[] =>
  xs.filter((x): x is number => x !== undefined && Number.isFinite(x));
const med = (xs: (number | undefined)[]): Spread => spread(num(xs));
const secSpread = (s: Spread): string =>
  s.n === 0
    ? 'n/a'
    : s.n === 1 || s.min === s.max
      ? seconds(s.median)
      : `${seconds(s.median)} (${(s.min / 1000).toFixed(2)}-${(s.max / 1000).toFixed(2)})`;
const fixed = (s: Spread, d = 2): string => (s.n === 0 ? 'n/a' : s.median.toFixed(d));

/** the contender a row is compared with: ours with the fake cloud for cloud rows, ours (local) otherwise */
export function reference(c: ContenderInfo): string {
  return c.latencyMs > 0 || c.kind === 'upstream' ? 'ours-fake' : 'ours-local';
}

function topRequests(t: RequestTally | undefined, n: number): string {
  if (!t) return '';
  return Object.entries(t.byRequest)
    .sort((a, b) => b[1] - a[1])
    .slice(0, 8)
    .map(([k, v]) => `${k} ${+(v / n).toFixed(2)}`)
    .join(', ');
}

export function burstTable(run: ControllersRun): string {
  const rows: Cell[][] = run.contenders.map((c) => {
    const ref = reference(c);
    const total = perRound(run, c.id, (t) => t.burst?.totalMs);
    const ratio =
      c.kind === 'ours'
        ? ''
        : formatSpread(
            inRoundRatios(
              perRound(run, ref, (t) => t.burst?.totalMs),
              total,
            ),
          );
    return [
      c.label,
      c.workers,
      c.rate,
      secSpread(med(total)),
      seconds(med(perRound(run, c.id, (t) => t.burst?.p50Ms)).median),
      seconds(med(perRound(run, c.id, (t) => t.burst?.p99Ms)).median),
      fixed(med(perRound(run, c.id, (t) => (t.burst ? t.burst.requests.serviceWrites / t.burst.services : undefined)))),
      fixed(med(perRound(run, c.id, (t) => (t.burst ? t.burst.requests.eventWrites / t.burst.services : undefined)))),
      fixed(med(perRound(run, c.id, (t) => (t.burst ? t.burst.requests.total / t.burst.services : undefined)))),
      c.kind === 'floor' ? '' : `${fixed(med(perRound(run, c.id, (t) => t.burst?.peakRssMB)), 0)} MB`,
      c.kind === 'floor' ? '' : fixed(med(perRound(run, c.id, (t) => t.burst?.cpuSeconds)), 1),
      fixed(med(perRound(run, c.id, (t) => t.burst?.controlPlaneCpuSeconds)), 1),
      ratio ? `${ratio} (${ref === 'ours-fake' ? 'fake' : 'local'})` : '',
    ];
  });
  return markdownTable(
    [
      'controller',
      'workers',
      'client rate',
      'first create -> last address',
      'p50 per Service',
      'p99 per Service',
      'Service writes / Service',
      'Event writes / Service',
      'API requests / Service',
      'peak RSS',
      'CPU s',
      'apiserver + etcd CPU s',
      'ours / this',
    ],
    rows,
  );
}

export function requestMixTable(run: ControllersRun): string {
  const last = run.rounds - 1;
  const rows = run.contenders.map((c) => {
    const t = run.turns.find((x) => x.contender === c.id && x.round === last)?.burst;
    const verbs = t
      ? Object.entries(t.apiserverByVerb)
          .map(([v, k]) => `${v} ${k}`)
          .join(', ')
      : '';
    return [c.label, topRequests(t?.requests, run.services), verbs];
  });
  return markdownTable(
    ['controller', 'its requests per Service (audit log)', 'apiserver requests by verb (/metrics, all clients)'],
    rows,
  );
}

export function churnTable(run: ControllersRun): string {
  const rows = run.contenders
    .filter((c) => run.turns.some((t) => t.contender === c.id && t.churn))
    .map((c) => {
      const add = perRound(run, c.id, (t: TurnResult) => t.churn?.addMs);
      const remove = perRound(run, c.id, (t: TurnResult) => t.churn?.removeMs);
      const both = perRound(run, c.id, (t: TurnResult) => (t.churn ? t.churn.addMs + t.churn.removeMs : undefined));
      const oursBoth = perRound(run, 'ours-fake', (t: TurnResult) =>
        t.churn ? t.churn.addMs + t.churn.removeMs : undefined,
      );
      return [
        c.label,
        secSpread(med(add)),
        secSpread(med(perRound(run, c.id, (t) => t.churn?.addLastMs))),
        secSpread(med(remove)),
        secSpread(med(perRound(run, c.id, (t) => t.churn?.removeLastMs))),
        fixed(med(perRound(run, c.id, (t) => t.churn?.updates)), 0),
        fixed(med(perRound(run, c.id, (t) => t.churn?.requests.eventWrites)), 0),
        fixed(med(perRound(run, c.id, (t) => t.churn?.cpuSeconds)), 1),
        c.kind === 'ours' ? '' : formatSpread(inRoundRatios(oursBoth, both)),
      ];
    });
  return markdownTable(
    [
      'controller',
      'node added -> all updated',
      'added -> last update',
      'node removed -> all updated',
      'removed -> last update',
      'update calls',
      'Event writes',
      'CPU s',
      'ours / this (add + remove)',
    ],
    rows,
  );
}

export function restartTable(run: ControllersRun): string {
  const rows = run.contenders
    .filter((c) => run.turns.some((t) => t.contender === c.id && t.restart))
    .map((c) => [
      c.label,
      secSpread(med(perRound(run, c.id, (t) => t.restart?.readyMs))),
      fixed(med(perRound(run, c.id, (t) => t.restart?.requests.serviceWrites)), 0),
      fixed(med(perRound(run, c.id, (t) => t.restart?.requests.eventWrites)), 0),
      fixed(med(perRound(run, c.id, (t) => t.restart?.requests.otherWrites)), 0),
      fixed(med(perRound(run, c.id, (t) => t.restart?.requests.total)), 0),
      `${fixed(med(perRound(run, c.id, (t) => t.restart?.peakRssMB)), 0)} MB`,
    ]);
  return markdownTable(
    [
      'controller',
      'start -> every Service synced',
      'Service writes',
      'Event writes',
      'other writes',
      'API requests',
      'peak RSS',
    ],
    rows,
  );
}

export function bigTable(run: ControllersRun): string {
  if (!run.big) return '';
  const big = { rounds: 1, turns: run.big.turns };
  const rows = run.big.contenders.map((c) => {
    const b = perRound(big, c.id, (t) => t.burst)[0];
    const err = big.turns.find((t) => t.contender === c.id)?.error;
    return [
      c.label,
      b ? `${b.addressed} / ${b.services}` : (err ?? 'n/a'),
      seconds(b?.totalMs),
      seconds(b?.p99Ms),
      b ? (b.requests.serviceWrites / b.services).toFixed(2) : '',
      c.kind === 'floor' || !b ? '' : `${b.peakRssMB.toFixed(0)} MB`,
      c.kind === 'floor' || !b ? '' : b.cpuSeconds.toFixed(1),
    ];
  });
  return markdownTable(
    [
      'controller',
      'addressed',
      'first create -> last address',
      'p99 per Service',
      'Service writes / Service',
      'peak RSS',
      'CPU s',
    ],
    rows,
  );
}

function ratioRow(
  run: ControllersRun,
  target: string,
  of: string,
  to: string,
  max: number,
  pick: (t: TurnResult) => number | undefined,
): TargetRow {
  const s = inRoundRatios(perRound(run, of, pick), perRound(run, to, pick));
  return { target, result: `${formatSpread(s)}`, met: s.n === 0 ? undefined : s.median <= max };
}

export function controllerTargets(run: ControllersRun): TargetRow[] {
  const total = (t: TurnResult) => t.burst?.totalMs;
  const churn = (t: TurnResult) => (t.churn ? t.churn.addMs + t.churn.removeMs : undefined);
  const rows: TargetRow[] = [
    ratioRow(
      run,
      'burst: ours <= 0.5x upstream at its default 1 worker, shipped rate',
      'ours-fake',
      'upstream-w1-shipped',
      0.5,
      total,
    ),
    ratioRow(
      run,
      'burst: ours <= 0.5x upstream at its default 1 worker, rate raised',
      'ours-fake',
      'upstream-w1-raised',
      0.5,
      total,
    ),
    ratioRow(
      run,
      `burst: ours <= 1.0x upstream at equal workers (${run.workers}), shipped rate`,
      'ours-fake',
      `upstream-w${run.workers}-shipped`,
      1,
      total,
    ),
    ratioRow(
      run,
      `burst: ours <= 1.0x upstream at equal workers (${run.workers}), rate raised`,
      'ours-fake',
      `upstream-w${run.workers}-raised`,
      1,
      total,
    ),
    ratioRow(run, 'burst: ours (local) <= 1.0x MetalLB', 'ours-local', 'metallb', 1, total),
    ratioRow(
      run,
      `burst: ours <= 1.2x the floor client (${run.latencyMs} ms cloud)`,
      'ours-fake',
      `floor-${run.latencyMs}ms`,
      1.2,
      total,
    ),
    ratioRow(
      run,
      'burst: ours (local) <= 1.2x the floor client (no cloud latency)',
      'ours-local',
      'floor-0ms',
      1.2,
      total,
    ),
  ];
  for (const id of ['ours-fake', 'ours-local']) {
    const w = spread(
      num(perRound(run, id, (t) => (t.burst ? t.burst.requests.serviceWrites / t.burst.services : undefined))),
    );
    rows.push({
      target: `burst: exactly 2 Service writes per Service (${id === 'ours-fake' ? 'fake' : 'local'})`,
      result: w.n ? `${w.min.toFixed(2)}-${w.max.toFixed(2)}` : 'n/a',
      met: w.n ? w.min === 2 && w.max === 2 : undefined,
    });
  }
  rows.push(
    ratioRow(
      run,
      'node churn: ours <= 0.2x upstream at 1 worker, shipped rate',
      'ours-fake',
      'upstream-w1-shipped',
      0.2,
      churn,
    ),
    ratioRow(
      run,
      'node churn: ours <= 0.2x upstream at 1 worker, rate raised',
      'ours-fake',
      'upstream-w1-raised',
      0.2,
      churn,
    ),
    ratioRow(
      run,
      `node churn: ours <= 0.2x upstream at equal workers (${run.workers}), rate raised`,
      'ours-fake',
      `upstream-w${run.workers}-raised`,
      0.2,
      churn,
    ),
  );
  const restartWrites = spread(
    num(
      perRound(run, 'ours-local', (t) =>
        t.restart ? t.restart.requests.serviceWrites + t.restart.requests.eventWrites : undefined,
      ),
    ),
  );
  rows.push({
    target: 'restart: zero writes (Services and Events) for unchanged Services',
    result: restartWrites.n ? `${restartWrites.max} writes (worst round)` : 'n/a',
    met: restartWrites.n ? restartWrites.max === 0 : undefined,
  });
  const rss = (t: TurnResult) => t.burst?.peakRssMB;
  const floor = run.runtimeFloor;
  const upstreamRss = med(perRound(run, `upstream-w${run.workers}-raised`, rss));
  const upstreamMB = upstreamRss.n ? upstreamRss.median : undefined;
  const floorNote =
    floor && upstreamMB
      ? `; floor of the runtime, same run: Node alone ${floor.nodeMB.toFixed(0)} MB, Node with @kubernetes/client-node loaded ${floor.clientNodeMB.toFixed(0)} MB = ${(floor.clientNodeMB / upstreamMB).toFixed(2)}x` +
        (floor.typeScriptClientNodeMB === undefined
          ? ''
          : `, Node + client-node run as TypeScript (type stripping), as ${run.oursBuild ? 'a checkout runs ours (not its image)' : 'bin/ ran ours in this run'} ${floor.typeScriptClientNodeMB.toFixed(0)} MB = ${(floor.typeScriptClientNodeMB / upstreamMB).toFixed(2)}x`) +
        (floor.bundledClientNodeMB === undefined
          ? ''
          : `, Node + client-node bundled as the image ships it ${floor.bundledClientNodeMB.toFixed(0)} MB = ${(floor.bundledClientNodeMB / upstreamMB).toFixed(2)}x`) +
        (floor.tlsClientMB === undefined
          ? ''
          : `, Node's https listing and watching Services over TLS and nothing else (the network client ours runs on) ${floor.tlsClientMB.toFixed(0)} MB = ${(floor.tlsClientMB / upstreamMB).toFixed(2)}x`)
      : '';
  const withFloor = (r: TargetRow): TargetRow => ({ ...r, result: `${r.result}${floorNote}` });
  rows.push(
    ratioRow(
      run,
      `memory: ours <= 2x the upstream controller's peak RSS at ${run.services} Services (equal workers, rate raised)`,
      'ours-fake',
      `upstream-w${run.workers}-raised`,
      2,
      rss,
    ),
    ratioRow(
      run,
      `memory: ours <= 2x the upstream controller's peak RSS at ${run.services} Services (1 worker, shipped)`,
      'ours-fake',
      'upstream-w1-shipped',
      2,
      rss,
    ),
  );
  rows.splice(-2, 2, ...rows.slice(-2).map(withFloor));
  return rows;
}

export function targetsTable(rows: TargetRow[]): string {
  return markdownTable(
    ['target', 'result (ours / anchor: median (range) over rounds)', 'met'],
    rows.map((r) => [r.target, r.result, verdict(r.met)]),
  );
}
