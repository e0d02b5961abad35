/* LilyVM public API for plugin authors: include this one header. */
#ifndef LILYVM_LILYVM_H
#define LILYVM_LILYVM_H
#include <lilyvm/plugin.h>
#include <lilyvm/host.h>
#endif
