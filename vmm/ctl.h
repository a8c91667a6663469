/* kvmini ctl: the client of --api-socket (ctl.c). */
#ifndef KVMINI_VMM_CTL_H
#define KVMINI_VMM_CTL_H

/* argv[1] == "ctl". Returns the process's exit status: 0 ok, 1 refused,
 * 2 no answer or a bad command line. */
int ctl_main(int argc, char **argv);

#endif
