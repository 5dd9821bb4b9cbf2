/* A stand-in for a dropped implant, for the containerd "intrusion" fixture: it only waits
 * (pause(2), forever), with no libc at all, so the static binary is a few hundred bytes: CRIU
 * keeps a deleted executable's bytes as a ghost file only up to --ghost-limit (1 MiB by
 * default), which a copy of busybox would exceed.
 * Built by make-fixture.sh: gcc -static -nostdlib -Os -s -Wl,--build-id=none (x86-64). */
void _start(void)
{
	for (;;)
		__asm__ volatile("syscall" : : "a"(34) : "rcx", "r11", "memory"); /* pause() */
}
