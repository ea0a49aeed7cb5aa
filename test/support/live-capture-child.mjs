// Runs inside a test's network namespace: captures live on one interface through the agent's
// frame pipeline and prints each sighting as a line of JSON. `ready` when capture is open.
import { FramePipeline, openLiveCapture } from '@ipwarden/agent';

const [interfaceName] = process.argv.slice(2);
const pipeline = new FramePipeline((sighting) => process.stdout.write(`${JSON.stringify(sighting)}\n`));
openLiveCapture(interfaceName, (linkType, bytes, offset, length, at) =>
  pipeline.push(linkType, bytes, offset, length, at),
);
process.stdout.write('ready\n');
