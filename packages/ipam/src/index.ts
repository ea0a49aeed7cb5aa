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
export { AllocationSnapshot, macNumber } from './allocation-snapshot.js';
export {
  type AllocationFacts,
  type Finding,
  type HistoryFacts,
  type Judgement,
  judgeBinding,
  judgeDhcpServer,
  MAC_CHANGE_GRACE_MS,
  needsAllocation,
  needsHistory,
  type Quieted,
  type SeenBinding,
} from './conflict-rules.js';
export { type ServableSubnet, type ServingAgent, servedSubnets } from './dhcp-serving.js';
export { IntervalSet } from './interval-set.js';
export { bitsOf, type Family, formatIp, type Ip, parseIp, parseWireIp } from './ip.js';
export {
  CONFLICT_KINDS,
  type ConflictKind,
  isLinkLocal,
  type Located,
  NetworkPlan,
  type Place,
  type PlanAgent,
  type PlanDhcpServer,
  type PlanExemption,
  type PlanSubnet,
} from './network-plan.js';
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
export { isVirtualRouterMac, virtualRouterProtocol } from './virtual-router.js';
