export type { AzureTrace, AzureFunctionTrace, DurationPercentiles, MemoryPercentiles } from './types.js';
export { readAzureTrace, readTraceDay, readInvocations, readDurations, readMemory, listTraceDays, type ReadTraceOptions } from './reader.js';
export { synthesizeTrace, type SynthOptions, type SynthSummary } from './synthesize.js';
export { runTraceSynth, TRACE_SYNTH_USAGE } from './synth-command.js';
export { TraceFormatError } from './errors.js';
export { traceFileNames, dayLabel, MINUTES_PER_DAY } from './format.js';
export { Rng } from './rng.js';
export { detectTraceLayout, UnknownTraceError, INVITRO_FILES, type TraceLayout } from './detect.js';
export { readAzure2021, AZURE2021_COLUMNS } from './azure2021.js';
