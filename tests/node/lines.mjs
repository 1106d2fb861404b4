// The two official agent lines the emulator must satisfy, loaded under one shape so every test runs on both.
export const LINES = ['@dfinity/agent 3.x', '@icp-sdk/core 6.x'];

export async function load(line) {
  if (line === '@dfinity/agent 3.x') {
    const agent = await import('@dfinity/agent');
    return {
      agent,
      IDL: (await import('@dfinity/candid')).IDL,
      identity: await import('@dfinity/identity'),
      secp: await import('@dfinity/identity-secp256k1'),
      Principal: (await import('@dfinity/principal')).Principal,
    };
  }
  const agent = await import('@icp-sdk/core/agent');
  return {
    agent,
    IDL: (await import('@icp-sdk/core/candid')).IDL,
    identity: await import('@icp-sdk/core/identity'),
    secp: await import('@icp-sdk/core/identity/secp256k1'),
    Principal: (await import('@icp-sdk/core/principal')).Principal,
  };
}

export const exampleIdl = ({ IDL }) =>
  IDL.Service({
    greet: IDL.Func([IDL.Text], [IDL.Text], ['query']),
    whoami: IDL.Func([], [IDL.Principal], ['query']),
    whoami_update: IDL.Func([], [IDL.Principal], []),
    inc: IDL.Func([], [IDL.Nat64], []),
    get: IDL.Func([], [IDL.Nat64], ['query']),
    fail: IDL.Func([IDL.Text], [IDL.Nat64], []),
    echo_blob: IDL.Func([IDL.Vec(IDL.Nat8)], [IDL.Vec(IDL.Nat8)], []),
  });

// Deliberately wrong views of the same canister: a method it lacks, wrong argument types, an update as query.
export const wrongIdl = ({ IDL }) =>
  IDL.Service({
    no_such_method: IDL.Func([], [IDL.Text], []),
    no_such_query: IDL.Func([], [IDL.Text], ['query']),
    greet: IDL.Func([IDL.Nat], [IDL.Text], ['query']),
    inc: IDL.Func([], [IDL.Nat64], ['query']),
    fail: IDL.Func([IDL.Nat], [IDL.Nat64], []),
  });

// Rejects surface as AgentError whose `cause.code` carries the reject fields in both lines.
export function rejectOf(err) {
  const code = err?.cause?.code ?? err?.code ?? err;
  return {
    name: code?.name,
    rejectCode: code?.rejectCode,
    errorCode: code?.rejectErrorCode,
    message: code?.rejectMessage ?? String(err?.message ?? err),
  };
}
