-- A binding's row is updated at each refresh (its times, sources, names), which is most of what
-- agents report once a segment is known; no indexed column changes. With room left on each page,
-- the new version goes on the same page as a heap-only tuple (HOT): no new entries in the two
-- indexes, and nothing in them for VACUUM to clean. New pages only; existing ones as they are
-- rewritten. (Not in the drizzle schema, which has no storage parameters: see schema/discoveries.ts.)
ALTER TABLE "bindings" SET (fillfactor = 90);
