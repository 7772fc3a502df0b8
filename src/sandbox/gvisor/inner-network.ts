/**
 * The one network every sandbox sees wherever it lands (see network.ts): `eth0` at a fixed
 * address and MAC, behind a gateway at a fixed address and MAC.
 */
export const innerAddress = "10.88.0.2";
export const innerGateway = "10.88.0.1";
export const innerMac = "02:00:0a:58:00:02";
export const gatewayMac = "02:00:0a:58:00:01";
