// Keys made by the official TypeScript SDK, for tests/credential.rs to import: a keystore
// directory in the Sui CLI's format (sui.keystore + client.yaml with its active address)
// and the SDK's `suiprivkey` export. Prints {"address", "suiprivkey"} as JSON.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ed25519Keypair } from '@mysten/sui/keypairs/ed25519';
import { decodeSuiPrivateKey } from '@mysten/sui/cryptography';
import { toBase64 } from '@mysten/sui/utils';

const dir = process.argv[2];
if (!dir) throw new Error('usage: node keys.mjs <keystore dir>');
const active = new Ed25519Keypair();
const other = new Ed25519Keypair();
const entry = (keypair) => {
  const { secretKey } = decodeSuiPrivateKey(keypair.getSecretKey());
  return toBase64(Uint8Array.from([0x00, ...secretKey]));
};
writeFileSync(join(dir, 'sui.keystore'), JSON.stringify([entry(other), entry(active)], null, 2));
writeFileSync(join(dir, 'client.yaml'), `keystore:\n  File: ${join(dir, 'sui.keystore')}\nenvs: []\nactive_env: null\nactive_address: "${active.toSuiAddress()}"\n`);
const exported = new Ed25519Keypair();
console.log(JSON.stringify({
  keystoreAddress: active.toSuiAddress(),
  address: exported.toSuiAddress(),
  suiprivkey: exported.getSecretKey(),
}));
