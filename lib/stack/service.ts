/** What every natively run service of the stack offers the stack command. */
export interface ServiceState {
  address: string;
  up: boolean;
  pid?: number;
}

export interface NativeService {
  /** Also the name of its pid file and log under .stack/. */
  name: 'postgres' | 'kafka' | 'ferretdb';
  /** Installs, downloads or builds what the service needs; cached, so fast the second time. */
  prepare(log: (m: string) => void): Promise<void>;
  /** Starts the service unless it runs already, waits until it serves, returns its URL. */
  up(log: (m: string) => void): Promise<string>;
  /** Stops the process this stack started (by pid); true if one was running. */
  down(): Promise<boolean>;
  status(): Promise<ServiceState>;
}
