#pragma once
/// @file version.hpp
/// @brief metarec's version, for messages and for files that record which library wrote them.

#define METAREC_VERSION_MAJOR 0
#define METAREC_VERSION_MINOR 1
#define METAREC_VERSION_PATCH 0
#define METAREC_VERSION_STRING "0.1.0"
