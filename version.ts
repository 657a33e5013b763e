/** The program's version: what `likelihood --version` prints (one constant, bumped on release). */
export const VERSION = "0.1.0";
