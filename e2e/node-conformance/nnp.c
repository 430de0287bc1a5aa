/*
 * The nonewprivs test program of the node e2e suite's security context
 * specs: installed setuid root, it prints the effective uid it runs with,
 * which stays the caller's when no_new_privs is set and becomes 0 when not.
 */
#include <stdio.h>
#include <unistd.h>

int main(void) {
  printf("Effective uid: %d\n", (int)geteuid());
  return 0;
}
