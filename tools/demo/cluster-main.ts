/**
 * `npm run cluster`: three roq nodes behind HAProxy on one machine (tools/demo/cluster.ts), serving the sample feed
 * at http://127.0.0.1:8090/departures. Ctrl-C stops HAProxy, every Apache and every daemon.
 *
 * Environment: PORT (HAProxy's port, default 8090), STATS_PORT (its statistics page, default PORT+1),
 * ROQ_CLUSTER_DIR (default run/cluster), ROQ_CLUSTER_DATA (default data/gtfs-lirr), ROQ_CLUSTER_NODES (default 3).
 */
import { join, resolve } from 'node:path';
import { rootFromBundle, SCRIPT_PATH, startCluster } from './cluster.js';

const ROOT = rootFromBundle(process.argv[1] ?? 'dist/cluster.js');

async function main(): Promise<void> {
  const port = Number(process.env.PORT ?? 8090);
  const base = resolve(ROOT, process.env.ROQ_CLUSTER_DIR || 'run/cluster');
  const nodes = Number(process.env.ROQ_CLUSTER_NODES ?? 3);
  process.stdout.write(`roq cluster: starting ${nodes} nodes under ${base} …\n`);
  const c = await startCluster({
    base,
    root: ROOT,
    data: resolve(ROOT, process.env.ROQ_CLUSTER_DATA || 'data/gtfs-lirr'),
    nodes,
    port,
    statsPort: Number(process.env.STATS_PORT ?? port + 1),
    workers: 1,
  });
  process.stdout.write(
    [
      `roq cluster: ${c.url}${SCRIPT_PATH} (HAProxy, deploy/haproxy.cfg with ${nodes} nodes; Ctrl-C stops everything)`,
      `  stats page  ${c.statsUrl}`,
      `  health      ${c.url}${SCRIPT_PATH}/_health (answered by whichever node HAProxy picks)`,
      ...c.nodes.map((n) => `  ${n.name}       ${n.url}${SCRIPT_PATH}  run ${n.run}  data ${n.data}`),
      `  refresh     deploy/refresh-cluster.sh NEW_DATA_DIR ${c.nodes.map((n) => `local:${n.run}:${n.data}`).join(' ')}`,
      `              (with ROQ_BIN="node ${join(ROOT, 'dist/roq.js')}")`,
      '',
    ].join('\n'),
  );
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    process.stdout.write(
      `${signal}: stopping HAProxy, ${c.nodes.length} Apache servers and ${c.nodes.length} daemons\n`,
    );
    void c.stop().then(
      () => process.exit(0),
      (e: Error) => (process.stderr.write(`roq cluster: ${e.message}\n`), process.exit(1)),
    );
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
}

main().catch((e: Error) => {
  process.stderr.write(`roq cluster: ${e.message}\n`);
  process.exit(1);
});
