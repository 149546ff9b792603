/** The Azure provider passes the suite every provider passes, against the fake ARM over HTTPS. */
import { runConformance } from '../../test/conformance/suite.ts';
import { startFakeArmWorld, type FakeArmWorld } from '../../test/azure-fake/world.ts';
import { ownedBy } from '../../test/azure-fake/inventory.ts';

let world: FakeArmWorld | undefined;

runConformance('azure', async () => {
  world = await startFakeArmWorld();
  const w = world;
  const provider = w.newProvider('conformance');
  return {
    provider,
    ownedResources: async () => ownedBy(w.fake, 'conformance').total,
    invalid: (lb) => ({ ...lb, ports: [{ name: 'sctp', protocol: 'SCTP', port: 9999, nodePort: 30999 }] }),
    close: async () => {
      await provider.close();
      await w.stop();
    },
  };
});
