// Package powerloss tests that a power loss, unlike kill -9, which keeps the page
// cache, loses no acknowledged write and leaves every member able to restart: its
// test drops what a member wrote after its last fsync (sectors of the Raft log's
// segment files, bbolt's pages of its metadata file torn as a crash in the middle of
// a transaction would), and restarts it. Test code only.
package powerloss
