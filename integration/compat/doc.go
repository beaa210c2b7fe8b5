// Package compat holds the differential scenarios of zkraft's compatibility claim
// with Apache ZooKeeper 3.8.0, the runner that plays them over raw connections and
// normalizes what a client observes into a transcript, the allow-list of accepted
// differences, and the golden transcripts recorded from the reference ZooKeeper.
//
// Two users: the differential test (integration/diff) runs every scenario against a
// reference ZooKeeper and an in-process zkraft and compares the transcripts, and
// checks that the reference still produces the golden transcripts; `zkraft compat`
// (Check) runs them against any running server or ensemble, compared with a
// reference server or with the golden transcripts. See docs/compatibility.md.
package compat
