/**
 * An object on its way from the SDK into the sidecar, whichever way it comes (pushed: upload.ts;
 * offered: offered-upload.ts). Its own file so the two ways import it and not each other.
 */
import type { IncomingObject } from '../../transfer/object-stream.js';

export interface SdkUpload extends IncomingObject {
  /** everything uploaded has been read by whoever read it */
  readonly consumed: boolean;
  /** stops reading; what is left of the upload is dropped */
  discard(): void;
  /**
   * Discards the rest and resolves once the request may be answered: a pushed body has all arrived
   * (closing under the SDK's upload would turn our answer into an EPIPE on its side), or the SDK hung up.
   */
  settle(): Promise<void>;
}
