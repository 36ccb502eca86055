#pragma once

// qcustomplot.h is written with Qt's keyword macros (signals, slots, emit,
// foreach), which QT_NO_KEYWORDS removes project-wide because they collide
// with LibTorch headers. Define them for this one header and take them back
// after, so no other file sees them. Include QCustomPlot only through here.
#if defined(signals) || defined(slots) || defined(emit) || defined(foreach)
#error "Qt keyword macros are already defined; QT_NO_KEYWORDS is expected"
#endif
#define signals Q_SIGNALS
#define slots Q_SLOTS
#define emit Q_EMIT
#define foreach Q_FOREACH
#include <qcustomplot.h>
#undef signals
#undef slots
#undef emit
#undef foreach
