/**
 * The Azure Functions 2019 public trace (Shahrad et al., ATC'20), as the simulator and the
 * trace-driven loader read it. Files of one day `dNN`:
 *   invocations_per_function_md.anon.dNN.csv  HashOwner,HashApp,HashFunction,Trigger,1..1440
 *   function_durations_percentiles.anon.dNN.csv  HashOwner,HashApp,HashFunction,Average,Count,Minimum,Maximum,
 *       percentile_Average_0,_1,_25,_50,_75,_99,_100  (milliseconds)
 *   app_memory_percentiles.anon.dNN.csv  HashOwner,HashApp,SampleCount,AverageAllocatedMb,
 *       AverageAllocatedMb_pct1,_pct5,_pct25,_pct50,_pct75,_pct95,_pct99,_pct100
 */

export interface DurationPercentiles {
  averageMs: number;
  count: number;
  minimumMs: number;
  maximumMs: number;
  /** Keys '0','1','25','50','75','99','100' → milliseconds. */
  percentilesMs: Record<string, number>;
}

export interface MemoryPercentiles {
  sampleCount: number;
  averageMB: number;
  /** Keys '1','5','25','50','75','95','99','100' → MB. */
  percentilesMB: Record<string, number>;
}

export interface AzureFunctionTrace {
  hashOwner: string;
  hashApp: string;
  hashFunction: string;
  trigger: string;
  /** Invocations per minute of the day (1440 entries for a full day). */
  perMinute: number[];
  duration?: DurationPercentiles;
  /** Memory is reported per application in the dataset; every function of the app shares it. */
  memory?: MemoryPercentiles;
}

export interface AzureTrace {
  day: string;
  minutes: number;
  functions: AzureFunctionTrace[];
}
