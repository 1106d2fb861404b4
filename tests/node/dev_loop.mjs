// What a web app's own test does under scripts/with-emulator.sh: read the variables the emulator
// wrote (dfx and icp-cli spellings must agree) and call the backend canister through @icp-sdk/core with
// verification on. Prints one JSON line with what it saw; `--exit-with N` then exits with N (to check
// that the wrapper passes the status on and still stops the emulator).
import { HttpAgent, Actor } from '@icp-sdk/core/agent';
import { Ed25519KeyIdentity } from '@icp-sdk/core/identity';
import { Principal } from '@icp-sdk/core/principal';

const host = process.env.NEXT_PUBLIC_IC_HOST;
const canister = process.env.CANISTER_ID_BACKEND;
const icpName = process.env['PUBLIC_CANISTER_ID:backend'];
if (!host || !canister) throw new Error('NEXT_PUBLIC_IC_HOST and CANISTER_ID_BACKEND must be set');
for (const [name, value] of [
  ['VITE_IC_HOST', process.env.VITE_IC_HOST],
  ['ICP_NETWORK', process.env.ICP_NETWORK],
  ['PUBLIC_CANISTER_ID:backend', icpName],
  ['VITE_CANISTER_ID_BACKEND', process.env.VITE_CANISTER_ID_BACKEND],
]) {
  const expected = name.includes('CANISTER') ? canister : host;
  if (value !== expected) throw new Error(`${name}=${value} disagrees with ${expected}`);
}

const idl = ({ IDL }) =>
  IDL.Service({
    get_api_version: IDL.Func([], [IDL.Text], ['query']),
    whoami: IDL.Func([], [IDL.Principal], ['query']),
    register: IDL.Func([], [IDL.Bool], []),
  });

const identity = Ed25519KeyIdentity.generate();
const agent = await HttpAgent.create({ host, identity, shouldFetchRootKey: true });
const backend = Actor.createActor(idl, { agent, canisterId: Principal.fromText(canister) });
const seen = {
  host,
  canister,
  apiVersion: await backend.get_api_version(),
  whoamiMatches: (await backend.whoami()).toText() === identity.getPrincipal().toText(),
  registered: await backend.register(),
};
console.log(JSON.stringify(seen));
const at = process.argv.indexOf('--exit-with');
if (at >= 0) process.exit(Number(process.argv[at + 1]));
