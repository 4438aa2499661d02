type Point = number | bigint | Date;

/** A pair of values read together, e.g. the first and last sequence number of a window. */
export class StartEnd {
  constructor(public start: Point = 0, public end: Point = 0) {}
}
