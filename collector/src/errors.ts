/**
 * The collector's error catalogue (API.md, "Errors"): every problem the API answers carries one
 * of these stable codes, an HTTP status and a title. Services throw `ApiError`s and know no
 * HTTP beyond the status; one mapper (http/problem.ts) turns them into RFC 9457
 * problem+json. Codes are never reused for another meaning.
 */
export const ErrorCode = {
  /** No token, or one that is wrong or revoked. */
  UNAUTHORIZED: { code: 'unauthorized', status: 401, title: 'Authentication required' },
  /** The caller's role or ownership does not allow the action. */
  FORBIDDEN: { code: 'forbidden', status: 403, title: 'Not allowed' },
  /** The body, query or path does not match the request's schema. */
  VALIDATION_FAILED: { code: 'validation-failed', status: 400, title: 'Invalid request' },
  /** The body is not JSON. */
  MALFORMED_JSON: { code: 'malformed-json', status: 400, title: 'Malformed JSON body' },
  /** Unknown resource or path. */
  NOT_FOUND: { code: 'not-found', status: 404, title: 'Not found' },
  /** Not an IPv4 or IPv6 address. */
  INVALID_IP: { code: 'invalid-ip', status: 400, title: 'Invalid IP address' },
  /** Not a CIDR prefix, or one with host bits set. */
  INVALID_CIDR: { code: 'invalid-cidr', status: 400, title: 'Invalid CIDR prefix' },
  /** An address that must lie inside the subnet does not. */
  IP_NOT_IN_SUBNET: { code: 'ip-not-in-subnet', status: 400, title: 'Address outside the subnet' },
  /** A subnet that overlaps another on the same VLAN. */
  SUBNET_OVERLAPS: { code: 'subnet-overlaps', status: 409, title: 'Subnet overlaps another' },
  /** A CIDR that names more than one subnet (the same prefix on several VLANs): use the id. */
  AMBIGUOUS_SUBNET: { code: 'ambiguous-subnet', status: 409, title: 'More than one subnet has this CIDR' },
  /** A range that overlaps another range of the subnet. */
  RANGE_OVERLAPS: { code: 'range-overlaps', status: 409, title: 'Range overlaps another' },
  /** Not a MAC address (aa:bb:cc:dd:ee:ff). */
  INVALID_MAC: { code: 'invalid-mac', status: 400, title: 'Invalid MAC address' },
  /** Not a host name (RFC 1123: labels of letters, digits and hyphens). */
  INVALID_HOSTNAME: { code: 'invalid-hostname', status: 400, title: 'Invalid host name' },
  /** A webhook URL that is not http(s), has no host, or carries credentials. */
  INVALID_URL: { code: 'invalid-url', status: 400, title: 'Invalid webhook URL' },
  /** An event type name that DESIGN.md ("Events") does not list. */
  UNKNOWN_EVENT_TYPE: { code: 'unknown-event-type', status: 400, title: 'Unknown event type' },
  /** No address of the subnet is free. */
  SUBNET_EXHAUSTED: { code: 'subnet-exhausted', status: 409, title: 'No free address in the subnet' },
  /** The address is allocated, or observed in use within the observation window. */
  IP_IN_USE: { code: 'ip-in-use', status: 409, title: 'Address in use' },
  /** The address is one the subnet never hands out (network, broadcast, gateway, DNS server, a range). */
  IP_UNAVAILABLE: { code: 'ip-unavailable', status: 409, title: 'Address not available for allocation' },
  /** The subnet is only watched, not allocated from. */
  SUBNET_UNMANAGED: { code: 'subnet-unmanaged', status: 409, title: 'Subnet not managed' },
  /** The subnet still holds addresses; `force=true` deletes them with it. */
  SUBNET_IN_USE: { code: 'subnet-in-use', status: 409, title: 'Subnet has addresses' },
  /** An address allocated in more than one subnet (the same IP on several VLANs): name the subnet. */
  AMBIGUOUS_ADDRESS: { code: 'ambiguous-address', status: 409, title: 'Address in more than one subnet' },
  /** The pool still has claims; `force=true` releases them with it. */
  POOL_IN_USE: { code: 'pool-in-use', status: 409, title: 'Pool has claims' },
  /** The MAC already has an address in the subnet's DHCP map: DHCP hands one address per MAC in a subnet. */
  MAC_IN_DHCP_MAP: { code: 'mac-in-dhcp-map', status: 409, title: 'MAC already has an address in the DHCP map' },
  /** A MAC address that is already an interface of another node. */
  MAC_IN_USE: { code: 'mac-in-use', status: 409, title: 'MAC address belongs to another node' },
  /** A name (agent, user) that is already taken. */
  NAME_TAKEN: { code: 'name-taken', status: 409, title: 'Name already taken' },
  /** The body is larger than the collector accepts. */
  BODY_TOO_LARGE: { code: 'body-too-large', status: 413, title: 'Body too large' },
  /** The body is not application/json. */
  UNSUPPORTED_MEDIA_TYPE: { code: 'unsupported-media-type', status: 415, title: 'Unsupported media type' },
  /** The database cannot be reached; try again. */
  UNAVAILABLE: { code: 'unavailable', status: 503, title: 'Service unavailable' },
  /** A fault of the collector's own; logged with its cause. */
  INTERNAL: { code: 'internal-error', status: 500, title: 'Internal error' },
} as const;

export type ErrorKind = (typeof ErrorCode)[keyof typeof ErrorCode];

export interface FieldError {
  field: string;
  message: string;
}

export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(
    readonly kind: ErrorKind,
    readonly detail: string,
    readonly errors?: FieldError[],
  ) {
    super(detail);
  }
}

/** A problem with one field of a request, as the catalogue's `kind`. */
export function fieldError(kind: ErrorKind, field: string, message: string): ApiError {
  return new ApiError(kind, `${field}: ${message}`, [{ field, message }]);
}
