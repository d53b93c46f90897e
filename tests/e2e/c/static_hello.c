/*
 * static_hello: linked with -static by test_heap_shim.py: LD_PRELOAD does nothing to it (no
 * dynamic loader), so the heap library never runs in it and it must simply work. Prints
 * "static ok" and exits 0.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(void)
{
	char *p = malloc(100);
	if (!p)
		return 1;
	snprintf(p, 100, "%s", "static ok");
	puts(p);
	free(p);
	return 0;
}
