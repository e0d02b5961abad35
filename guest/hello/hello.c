/* The smallest SDK kernel: greets on COM1 and ends through debug-exit. */
#include <stdio.h>
#include <lily/debugexit.h>
#include <lily/desc.h>
#include <lily/multiboot.h>
#include <lily/paging.h>
#include <lily/serial.h>

void kmain(uint32_t magic, uint32_t mbi_phys);

static void com1_write(const char *s, unsigned len)
{
    serial_write(SERIAL_COM1, s, len);
}

void kmain(uint32_t magic, uint32_t mbi_phys)
{
    desc_init();
    idt_init();
    paging_drop_identity();
    serial_init(SERIAL_COM1);
    console_set_output(com1_write);
    printf("\nhello from an SDK kernel (multiboot magic %#x, info at %#x)\n", magic, mbi_phys);
    debug_exit(magic == MULTIBOOT_BOOTLOADER_MAGIC ? DEBUG_EXIT_SUCCESS : DEBUG_EXIT_FAILURE);
}
