/** A proxy back end that records every apply: the story of what would have been forwarded, with no host changes. */
import type { ProxyBackend, ProxyService } from '../../providers/local/dataplane/types.ts';

export class RecordingBackend implements ProxyBackend {
  readonly name = 'userspace' as const;
  applies: ProxyService[][] = [];
  apply(services: ProxyService[]): Promise<void> {
    this.applies.push(structuredClone(services));
    return Promise.resolve();
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
  /** what is forwarded now */
  get last(): ProxyService[] {
    return this.applies.at(-1) ?? [];
  }
  /** what is forwarded now for one Service */
  service(key: string): ProxyService | undefined {
    return this.last.find((s) => s.key === key);
  }
}
