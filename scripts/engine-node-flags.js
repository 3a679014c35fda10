// Node flags for the engine process, in one place (npm start, the benchmark, the container).
// A larger young generation means fewer scavenges under a steady stream of short-lived
// request objects: with 512 debits in flight over 1,000 organizations, 64 MiB semi-spaces cut
// the engine's CPU per debit by about a sixth against 32 MiB (45-59 us against 62-71 us in
// three paired runs on the development machine), for at most 64 MiB more of young generation.
module.exports = ['--max-semi-space-size=64'];
