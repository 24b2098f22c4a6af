/* store/rcu.h - the one place that picks liburcu's flavour (urcu-memb) */
#pragma once

#include <urcu/urcu-memb.h>
#include <urcu/rculfhash.h>
#include <urcu/compiler.h>
