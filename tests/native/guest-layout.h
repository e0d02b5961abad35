/* Guest memory layout shared by the test blobs (assembly) and the tests (C). */
#ifndef LILYVM_TEST_GUEST_LAYOUT_H
#define LILYVM_TEST_GUEST_LAYOUT_H

#define BLOB_BASE 0x10000        /* code: memfd offset 0, 64 KiB, r-x */
#define GUEST_DATA 0x20000       /* data + stack: memfd offset 0x10000, 64 KiB, rw- */
#define GUEST_DATA_OFFSET 0x10000
#define GUEST_STACK_TOP 0x30000
#define GUEST_PATH 0x20100       /* a host path the guest tries to create */
#define GUEST_SOCKADDR 0x20200   /* struct sockaddr_in of the test's listener */
#define GUEST_VMPID 0x20300      /* the VM's pid */
#define GUEST_GADGET 0x20400     /* gadget address, syscall number, 6 arguments */
#define PF_ADDR_A 0x50000        /* unmapped until the VM maps it */
#define PF_OFFSET_A 0x40000      /* memfd offset the VM maps there */
#define PF_ADDR_B 0x60000
#define PF_OFFSET_B 0x48000
#define PF_REGION 0x90000        /* benchmark: 64 pages mapped on fault ... */
#define PF_REGION_END 0xd0000
#define PF_REGION_OFFSET 0x40000 /* ... from this memfd offset */
#define GUEST_RAM_SIZE 0x100000

#define LILY_SEL_CODE64_ 0x33 /* the selectors of transport.h, for assembly */
#define LILY_SEL_DATA_ 0x2b

#endif
