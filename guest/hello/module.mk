# The smallest SDK kernel, an example of guest_kernel (see docs/guest-sdk.md).
$(eval $(call guest_kernel,hello,guest/hello/hello.c,))
