/* evatok/evatok_ar.h on its own, as plain C99 (built with -std=c99 -pedantic-errors). */
#include "evatok/evatok_ar.h"

int main(void)
{
    EvatokSampleOptions so;
    (void)so;
    return sizeof(EvatokArInfo) > 0 ? 0 : 1;
}
