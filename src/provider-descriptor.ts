/**
 * What a provider folder's index.ts exports: everything the CLI, the configuration and the README need to
 * know about one provider, so that adding a provider is one descriptor plus one line in src/providers.ts.
 * A descriptor is loaded by every command: it must stay light, and `create` imports the provider's heavy
 * code (a cloud SDK) only when that provider runs.
 */
import type * as z from './config/zod.ts';
import type { Logger } from 'pino';
import type { AnnotationSpec } from './model/annotation-spec.ts';
import type { FlagSpec } from './config/flag-spec.ts';
import type { KubeConfig } from '@kubernetes/client-node';
import type { LoadBalancerProvider } from './provider.ts';

/** What every provider gets from the core flags. */
export interface SharedProviderSettings {
  clusterName: string;
  /** the apiserver's --service-node-port-range (node firewall rules admit it) */
  nodePortRange: { from: number; to: number };
  log: Logger;
}

export interface AnnotationTable {
  /** "Local provider": the README heading adds the class */
  title: string;
  rows: readonly AnnotationSpec[];
}

/** One line of `lb-provisioner doctor`: what was checked, how it came out, and what to do when it failed. */
export interface DoctorCheck {
  check: string;
  result: 'OK' | 'WARN' | 'FAIL';
  detail: string;
  /** what to change, for WARN and FAIL */
  fix?: string;
}

/** What a provider's doctor hook may use: the operator's own credentials, read-only. */
export interface DoctorContext {
  kubeConfig: KubeConfig;
  clusterName: string;
  log: Logger;
  /** aborts when doctor gives up on the check (a short timeout: doctor must answer in seconds) */
  signal: AbortSignal;
}

export interface ProviderDescriptor<Options = unknown> {
  /** `--provider <name>`, and the class `lbprovisioner.io/<name>` */
  readonly name: string;
  /** "Local provider", for headings */
  readonly title: string;
  /** flags only this provider reads; refused when the provider is not running */
  readonly flags: readonly FlagSpec[];
  /**
   * Validates this provider's flag values (keyed by commander attribute name: `--aws-region` ->
   * `awsRegion`, `--no-aws-adopt` -> `awsAdopt`). Every message starts with the flag it is about.
   */
  readonly options: z.ZodMiniType<Options>;
  /** the annotations this provider reads (the README's tables are made from them) */
  readonly annotations: readonly AnnotationTable[];
  create(options: Options, shared: SharedProviderSettings): Promise<LoadBalancerProvider>;
  /**
   * `lb-provisioner doctor`: this provider's own checks (credentials and reachability, pools, the data
   * plane's needs). It reads, never writes; a read it may not do is a WARN, not a failure of doctor.
   */
  doctor?(options: Options, ctx: DoctorContext): Promise<DoctorCheck[]>;
}
