// A full chunked upload through unmodified agents (verification on): begin, three chunks, commit,
// presence; plus the contract's error variants as a Next.js app would see them.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomUUID, randomBytes } from 'node:crypto';
import { LINES, load } from './lines.mjs';

const URL = process.env.ARTIFACT_URL;
const CANISTER = process.env.ARTIFACT_CANISTER_ID;

// The upload subset of the canister's .did (emulator/canisters/artifact/artifact.did), written as
// dfx-generated declarations would be.
export const artifactIdl = ({ IDL }) => {
  const ICPErrorCode = IDL.Variant({
    Unauthorized: IDL.Null, AlreadyExists: IDL.Null, NotFound: IDL.Null, InvalidHash: IDL.Null, Internal: IDL.Text,
  });
  const UploadSession = IDL.Record({
    session_id: IDL.Text, memory_id: IDL.Text, expected_hash: IDL.Text, chunk_count: IDL.Nat32,
    total_size: IDL.Nat64, created_at: IDL.Nat64, chunks_received: IDL.Vec(IDL.Bool), bytes_received: IDL.Nat64,
  });
  const result = (T) => IDL.Record({ success: IDL.Bool, data: IDL.Opt(T), error: IDL.Opt(ICPErrorCode) });
  const UploadSessionResponse = IDL.Record({
    success: IDL.Bool, session: IDL.Opt(UploadSession), message: IDL.Text, error: IDL.Opt(ICPErrorCode),
  });
  const ChunkResponse = IDL.Record({
    success: IDL.Bool, chunk_index: IDL.Nat32, bytes_received: IDL.Nat32, message: IDL.Text, error: IDL.Opt(ICPErrorCode),
  });
  const CommitResponse = IDL.Record({
    success: IDL.Bool, memory_id: IDL.Text, final_hash: IDL.Text, total_bytes: IDL.Nat64, message: IDL.Text,
    error: IDL.Opt(ICPErrorCode),
  });
  const MemoryPresenceResponse = IDL.Record({
    success: IDL.Bool, metadata_present: IDL.Bool, asset_present: IDL.Bool, error: IDL.Opt(ICPErrorCode),
  });
  return IDL.Service({
    begin_asset_upload: IDL.Func([IDL.Text, IDL.Text, IDL.Nat32, IDL.Nat64], [result(UploadSessionResponse)], []),
    put_chunk: IDL.Func([IDL.Text, IDL.Nat32, IDL.Vec(IDL.Nat8)], [result(ChunkResponse)], []),
    commit_asset: IDL.Func([IDL.Text, IDL.Text], [result(CommitResponse)], []),
    cancel_upload: IDL.Func([IDL.Text], [result(IDL.Null)], []),
    get_memory_presence_icp: IDL.Func([IDL.Text], [result(MemoryPresenceResponse)], ['query']),
  });
};

const CHUNK = 1024 * 1024;

for (const line of LINES) {
  describe(`artifact upload via ${line}`, { skip: !URL && 'ARTIFACT_URL not set' }, async () => {
    const { agent: A, identity: I, Principal } = await load(line);

    async function actor(identity) {
      const agent = await A.HttpAgent.create({ host: URL, identity, shouldFetchRootKey: true });
      return A.Actor.createActor(artifactIdl, { agent, canisterId: Principal.fromText(CANISTER) });
    }

    test('begin, three 1 MiB-class chunks, commit, presence', async () => {
      const art = await actor(I.Ed25519KeyIdentity.generate());
      const memoryId = randomUUID();
      const data = randomBytes(2 * CHUNK + 12345);
      const hash = createHash('sha256').update(data).digest('hex');
      const begun = await art.begin_asset_upload(memoryId, hash, 3, BigInt(data.length));
      assert.equal(begun.success, true, JSON.stringify(begun.error));
      const session = begun.data[0].session[0];
      assert.deepEqual(session.chunks_received, [false, false, false]);
      let cumulative = 0;
      for (let i = 0; i < 3; i++) {
        const part = data.subarray(i * CHUNK, (i + 1) * CHUNK);
        const put = await art.put_chunk(session.session_id, i, part);
        cumulative += part.length;
        assert.equal(put.success, true);
        assert.equal(put.data[0].bytes_received, cumulative);
      }
      const commit = await art.commit_asset(session.session_id, hash);
      assert.equal(commit.success, true);
      assert.equal(commit.data[0].final_hash, hash);
      assert.equal(commit.data[0].total_bytes, BigInt(data.length));
      const presence = await art.get_memory_presence_icp(memoryId);
      assert.equal(presence.data[0].asset_present, true);
      assert.equal(presence.data[0].metadata_present, false);
    });

    test('contract errors arrive as variants: invalid UUID, wrong hash, anonymous', async () => {
      const art = await actor(I.Ed25519KeyIdentity.generate());
      const data = randomBytes(1000);
      const hash = createHash('sha256').update(data).digest('hex');
      const bad = await art.begin_asset_upload('NOT-A-UUID', hash, 1, 1000n);
      assert.equal(bad.success, false);
      assert.match(bad.error[0].Internal, /^Invalid UUID/);
      const begun = await art.begin_asset_upload(randomUUID(), hash, 1, 1000n);
      const sid = begun.data[0].session[0].session_id;
      await art.put_chunk(sid, 0, data);
      const wrong = await art.commit_asset(sid, 'ab'.repeat(32));
      assert.equal(wrong.success, false);
      assert.ok('InvalidHash' in wrong.error[0]);
      const anon = await actor(new A.AnonymousIdentity());
      const refused = await anon.begin_asset_upload(randomUUID(), hash, 1, 1000n);
      assert.ok('Unauthorized' in refused.error[0]);
    });
  });
}
