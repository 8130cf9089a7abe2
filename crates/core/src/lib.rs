//! Core: seal state, mount table and router, token store, ACL check, audit broker, request pipeline.
