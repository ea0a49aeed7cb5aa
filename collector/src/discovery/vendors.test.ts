import { describe, expect, it } from 'vitest';
import { vendorOf } from './vendors.js';

describe('vendorOf', () => {
  it.each([
    ['00:1b:21:aa:bb:cc', 'Intel Corporate'],
    ['52:54:00:12:34:56', undefined], // QEMU's locally administered prefix
    ['02:42:0a:00:00:01', undefined], // Docker's, locally administered
    ['ff:ff:ff:ff:ff:ff', undefined],
  ])('names the organisation of %s', (mac, vendor) => {
    expect(vendorOf(mac)).toBe(vendor);
  });

  it('prefers a 36-bit MA-S assignment inside the IEEE registration authority block', () => {
    const vendor = vendorOf('70:b3:d5:00:10:01');
    expect(vendor).toBeDefined();
    expect(vendor).not.toBe('IEEE Registration Authority');
  });
});
