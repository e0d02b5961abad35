/* A shared object without the plugin entry symbol. */
#include <lilyvm/lilyvm.h>

LILYVM_EXPORT int not_a_plugin(void);
LILYVM_EXPORT int not_a_plugin(void)
{
    return 42;
}
