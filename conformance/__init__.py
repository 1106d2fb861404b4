"""The artifact canister's conformance suite: one pytest suite for the emulator and any real target.

`pytest conformance/` runs it against an emulator it starts itself; `--target replica --url ...`
points the same tests at a dfx replica, PocketIC or a staging canister. See docs/conformance.md.
"""
