import { runConformance } from '../../test/conformance/suite.ts';
import { FakeProvider } from './provider.ts';

runConformance('fake', async () => {
  const provider = new FakeProvider();
  return {
    provider,
    ownedResources: async () => provider.balancers.size,
    invalid: (lb) => ({ ...lb, ports: [{ name: 'sctp', protocol: 'SCTP', port: 9999, nodePort: 30999 }] }),
    close: async () => {},
  };
});
