/**
 * The L2 demo's stand-in for a node's kube-proxy backend (`node standin-node.ts <node>`, run inside the
 * node's namespace): answers every HTTP request on 8080 with the node's name. An nftables rule in the same
 * namespace takes VIP:80 here, as kube-proxy would take it to a pod.
 */
import { createServer } from 'node:http';

const node = process.argv[2] ?? 'node';
createServer((_req, res) => res.end(`${node}\n`)).listen(8080, '0.0.0.0');
process.stdin.resume();
process.stdin.on('end', () => process.exit(0));
