export {
  type AllocationPolicy,
  drawOrder,
  freeIn,
  parseExclusion,
  pickFree,
  type RandomBelow,
  randomBelowFrom,
  unavailableIn,
} from './allocation.js';
export { IntervalSet } from './interval-set.js';
export { bitsOf, type Family, formatIp, type Ip, parseIp } from './ip.js';
export {
  contains,
  firstOf,
  formatPrefix,
  lastOf,
  overlaps,
  type Parsed,
  type Prefix,
  parsePrefix,
  sizeOf,
  usableSpan,
} from './prefix.js';
export {
  type AddressState,
  BatchPicker,
  type Outcome,
  type Reads,
  SubnetView,
  type Want,
} from './subnet-view.js';
